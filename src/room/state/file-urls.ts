/**
 * Signed file URLs for the room's answers (protocol §11.3). Every answer
 * that carries a message signs its files afresh, but Web Crypto signs only
 * asynchronously while the room's handlers are synchronous. So a handler
 * first asks `ready(ids)`: undefined when every URL is at hand, else a
 * promise that signs the missing ones, after which the handler runs again
 * from the top (the inbox holds the socket's next frames meanwhile). Once
 * ready, `out` turns stored frames into what clients receive, synchronously.
 *
 * URLs are kept per file for one signing step (files/signing.ts), so a
 * welcome replaying a ring full of images signs each of them once per step,
 * not once per join.
 */
import type { UrlSigner } from "../../files/signing";
import { encodeChat } from "../../shared/server-frames";
import { hasFiles, parseStored } from "./stored-message";

/** URLs kept at most; past it the oldest go, and are signed again when asked. */
const MAX_KEPT = 10_000;

export class FileUrls {
  readonly #room: string;
  readonly #signer: UrlSigner | undefined;
  readonly #now: () => number;
  readonly #kept = new Map<string, { exp: number; url: string }>();

  /** @param signer undefined when uploads are off (no FILES_SECRET): answers then carry no files. */
  constructor(room: string, signer: UrlSigner | undefined, now: () => number) {
    this.#room = room;
    this.#signer = signer;
    this.#now = now;
  }

  /** The ids of the files the stored frames carry. */
  idsIn(frames: Iterable<string>): string[] {
    const ids: string[] = [];
    for (const frame of frames) {
      if (!hasFiles(frame)) continue;
      for (const file of parseStored(frame).files ?? []) ids.push(file.id);
    }
    return ids;
  }

  /** Undefined when every id has a URL to hand out now; else the promise that signs the rest. */
  ready(ids: Iterable<string>): Promise<void> | undefined {
    const signer = this.#signer;
    if (!signer) return undefined;
    const exp = signer.expiry(this.#now());
    const missing = [...new Set(ids)].filter((id) => !this.#fresh(id, exp));
    if (missing.length === 0) return undefined;
    return Promise.all(
      missing.map(async (id) => {
        const url = await signer.sign(this.#room, id, exp);
        this.#kept.delete(id);
        this.#kept.set(id, { exp, url });
      }),
    ).then(() => {
      for (const id of this.#kept.keys()) {
        if (this.#kept.size <= MAX_KEPT) break;
        this.#kept.delete(id);
      }
    });
  }

  /**
   * Stored frames as clients receive them, handed to `build`: at once when
   * every URL is at hand, else once the missing ones are signed (a page is
   * a snapshot: the same frames either way).
   */
  signed<T>(frames: readonly string[], build: (frames: string[]) => T): T | Promise<T> {
    const wait = this.ready(this.idsIn(frames));
    const finish = () => build(frames.map((f) => this.out(f)));
    return wait ? wait.then(finish) : finish();
  }

  /** A stored frame as clients receive it: its files with URLs (after `ready` for their ids). */
  out(frame: string): string {
    if (!hasFiles(frame)) return frame;
    const message = parseStored(frame);
    if (!this.#signer) {
      const { files: _files, ...rest } = message;
      return encodeChat(rest, undefined);
    }
    return encodeChat(message, (file) => this.url(file.id));
  }

  /** A file's URL for this step (after `ready` for it). */
  url(id: string): string {
    const kept = this.#kept.get(id);
    // `ready` ran in this turn or an earlier one; a URL from the step before is still good for a whole step less.
    if (!kept) throw new Error(`file ${id}: no signed URL; call ready() first`);
    return kept.url;
  }

  /** A URL signed in this step or the one before (so an answer that crosses a step boundary needs no second round). */
  #fresh(id: string, exp: number): boolean {
    const kept = this.#kept.get(id);
    return kept !== undefined && this.#signer !== undefined && kept.exp >= exp - this.#signer.step;
  }
}
