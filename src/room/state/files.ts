/**
 * The room's side of file attachments (protocol §11): which uploads exist,
 * whose they are, which message carries each, and when one must go. The
 * bytes are in R2 under `<room>/<id>`; the Worker streams them in and out,
 * and the room decides. Every deletion of a row is also a deletion from the
 * bucket (`forget`), so a file outlives neither its message nor its hour.
 */
import { UNATTACHED_FILE_MS } from "../../shared/files";
import { encodeFile, type StoredFile } from "../../shared/server-frames";
import type { FileRow, FileStore } from "../storage/stores";

/** Rows one sweep deletes at most; the alarm rings again at once for the rest. */
const SWEEP_BATCH = 500;

export class RoomFiles {
  readonly #store: FileStore;
  readonly #room: string;
  readonly #forget: (keys: string[]) => void;
  /** The lowest seq a file is attached to, read once: a ring-only room asks it on every chat. */
  #lowest: number | undefined | null = null;

  /** @param forget deletes objects from the bucket (not awaited by the room) */
  constructor(store: FileStore, room: string, forget: (keys: string[]) => void) {
    this.#store = store;
    this.#room = room;
    this.#forget = forget;
  }

  /** The object's key in the FILES bucket. */
  key(id: string): string {
    return `${this.#room}/${id}`;
  }

  uploaded(row: FileRow): void {
    this.#store.insert(row);
  }

  get(id: string): FileRow | undefined {
    return this.#store.get(id);
  }

  /** An unattached file within its hour (§11.1): its URL opens, as a preview. */
  fresh(row: FileRow, now: number): boolean {
    return row.uploaded + UNATTACHED_FILE_MS > now;
  }

  /**
   * §11.2: the files to attach, as the message will carry them, when every
   * id is one of `owner`'s uploads no message carries yet, still within its
   * hour (the alarm may not have swept it yet); else undefined.
   */
  claim(ids: readonly string[], owner: string, now: number): StoredFile[] | undefined {
    const files: StoredFile[] = [];
    for (const id of ids) {
      const row = this.#store.get(id);
      if (!row || row.owner !== owner || row.seq !== undefined || !this.fresh(row, now)) return undefined;
      files.push(encodeFile(row));
    }
    return files;
  }

  attach(ids: readonly string[], seq: number): void {
    this.#store.attach(ids, seq);
    if (this.#lowest !== null && (this.#lowest === undefined || seq < this.#lowest)) this.#lowest = seq;
  }

  /** A message was deleted (§7.2): its files go from the bucket at once (§11.3). */
  deleted(seq: number): void {
    this.#drop(this.#store.ofMessage(seq).map((r) => r.id));
  }

  /**
   * Deletes what no one may open any more: files no message took within
   * UNATTACHED_FILE_MS, and files of messages below `oldestStored` (expired
   * or pushed out of a ring-only room, §8.1). Returns how many.
   */
  sweep(now: number, oldestStored: () => number): number {
    const stale = this.#store.unattachedBefore(now - UNATTACHED_FILE_MS, SWEEP_BATCH);
    // The oldest stored message is asked only when some file is attached at all.
    const lowest = this.#lowestAttached();
    const below = lowest === undefined ? undefined : oldestStored();
    const orphans =
      below !== undefined && lowest !== undefined && lowest < below
        ? this.#store.attachedBelow(below, SWEEP_BATCH)
        : [];
    this.#drop([...stale, ...orphans]);
    return stale.length + orphans.length;
  }

  /** When the next unattached file is due to go (for the alarm). */
  next(): number | undefined {
    const oldest = this.#store.oldestUnattached();
    return oldest === undefined ? undefined : oldest + UNATTACHED_FILE_MS;
  }

  /** Whether a sweep would find files of messages below `oldestStored` (cheap: one number in memory). */
  orphaned(oldestStored: number): boolean {
    const lowest = this.#lowestAttached();
    return lowest !== undefined && lowest < oldestStored;
  }

  #lowestAttached(): number | undefined {
    if (this.#lowest === null) this.#lowest = this.#store.lowestAttached();
    return this.#lowest;
  }

  #drop(ids: string[]): void {
    if (ids.length === 0) return;
    this.#store.delete(ids);
    this.#lowest = null;
    this.#forget(ids.map((id) => this.key(id)));
  }
}
