/**
 * The room's history: the last HISTORY_LIMIT messages in their latest state
 * (protocol §7), kept in a RingStore (SQLite in production) with a copy in
 * memory, and the room's one event sequence: a new message, an edit, a
 * delete and a reaction change each take the next `seq`.
 *
 * Layout, and why:
 * - One row per message, keyed by `v`, the seq of the message's latest
 *   change. A resume asks for `v > since`, which on that key is a range read
 *   of exactly the rows it returns; no second index, whose upkeep would be
 *   a second row written by every event.
 * - A new message overwrites the oldest message's row once the ring is full
 *   (before that it is inserted): one statement, one row written. A change
 *   rewrites its message's row under the new `v`: one statement, one row.
 *   So storage holds at most HISTORY_LIMIT rows whatever the mix of events,
 *   and no event writes more than two (`npm run bench` counts them).
 * - No counter row: the newest event is either the newest message or a
 *   change to a message still in the ring, so the largest stored `v` is the
 *   room's latest seq, and seq can neither repeat nor skip across
 *   hibernation or restarts.
 * - Each row stores the chat frame already serialized: broadcasts and
 *   welcomes send those bytes as they are.
 * - A deleted message is a tombstone: its row keeps who sent it and when,
 *   and its text and reactions are gone from storage for good.
 * - Each new message's row records the seq of the message it pushed out
 *   (`evicted`), so a resume knows whether something after its `since`
 *   has left the ring, even though seqs of messages are no longer
 *   consecutive.
 *
 * The copy is loaded once per wake-up (at most HISTORY_LIMIT rows), and only
 * when a frame needs history: a typing frame or a close never reads storage.
 */

import * as v from "valibot";
import { REACTION_NAMES } from "../../shared/protocol";
import { ChatFrameSchema, encodeChat, type Reactions, type StoredChat } from "../../shared/server-frames";
import { utf8Length } from "../../shared/text";
import type { MessageRow, Reactors, RingStore } from "../storage/stores";

interface Entry extends MessageRow {
  /** UTF-8 length of `frame`, for the welcome's byte cap. */
  bytes: number;
}

export type NewMessage = Omit<StoredChat, "seq" | "v">;

/** A stored message as a change sees it: its fields and who reacted. */
export interface Message {
  readonly seq: number;
  readonly author: string | null;
  readonly deleted: boolean;
  readonly reactors: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>>;
}

export class HistoryRing {
  readonly #store: RingStore;
  readonly #limit: number;
  /** Oldest first, by seq; never longer than #limit. */
  readonly #entries: Entry[] = [];
  readonly #bySeq = new Map<number, Entry>();
  readonly #byClientId = new Map<string, Entry>();
  #latestSeq = 0;
  /** The newest seq that has left the ring (0: none). */
  #evicted = 0;

  constructor(store: RingStore, limit: number) {
    this.#store = store;
    this.#limit = limit;
    const { rows, legacy } = store.load();
    const kept = rows.slice(-limit);
    const dropped = rows.slice(0, rows.length - kept.length);
    this.#latestSeq = Math.max(0, ...rows.map((r) => r.v));
    this.#evicted = Math.max(0, ...rows.map((r) => r.evicted), ...dropped.map((r) => r.seq));
    const laidOut = legacy ? kept.map(withVersion) : kept;
    // A smaller HISTORY_LIMIT, or rows of an older layout: written again once.
    if (legacy || dropped.length > 0) {
      const newest = laidOut.at(-1);
      store.replaceAll(laidOut.map((r) => (r === newest ? { ...r, evicted: this.#evicted } : r)));
    }
    for (const row of laidOut) this.#push(row);
  }

  /** The newest seq in the room (of any event); 0 before the first. */
  get latestSeq(): number {
    return this.#latestSeq;
  }

  /** How many messages the ring holds now. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Stores a message under the next seq and returns its serialized frame.
   * Storage is written first; the caller broadcasts afterwards, and the
   * runtime's output gate holds those sends until the write is durable.
   */
  append(message: NewMessage, author: string | null): string {
    const seq = this.#latestSeq + 1;
    const frame = encodeChat({ ...message, seq, v: seq });
    const oldest = this.#entries.length >= this.#limit ? this.#entries[0] : undefined;
    const row: MessageRow = {
      seq,
      v: seq,
      frame,
      author,
      clientId: message.id ?? null,
      reactors: null,
      evicted: oldest?.seq ?? 0,
    };
    this.#store.write(row, oldest?.v);
    this.#latestSeq = seq;
    if (oldest) this.#evicted = oldest.seq;
    this.#push(row);
    return frame;
  }

  /** A message still in the ring, deleted or not. */
  get(seq: number): Message | undefined {
    const entry = this.#bySeq.get(seq);
    if (!entry) return undefined;
    return { seq, author: entry.author, deleted: isDeleted(entry.frame), reactors: entry.reactors ?? NO_REACTORS };
  }

  /**
   * Applies one change to a message under the next seq, stores it, and
   * returns the message's new state and the change's seq. `change` gets a
   * copy of the message's fields and reactors, and returns the message's
   * next fields (src/shared/updates.ts) or edits the copy in place. The
   * reaction summary is always made again from the reactors.
   */
  change(
    seq: number,
    change: (message: StoredChat, reactors: Reactors) => StoredChat | undefined,
  ): { seq: number; message: StoredChat } {
    const entry = this.#bySeq.get(seq);
    if (!entry) throw new Error(`history: no message ${seq}`);
    const next = this.#latestSeq + 1;
    const before = parseStored(entry.frame);
    const reactors: Reactors = new Map(Array.from(entry.reactors ?? [], ([emoji, who]) => [emoji, who.slice()]));
    const message = change(before, reactors) ?? before;
    message.v = next;
    const summary = summarize(reactors);
    if (summary) message.reactions = summary;
    else delete message.reactions;
    const row: MessageRow = {
      ...rowOf(entry),
      v: next,
      frame: encodeChat(message),
      reactors: reactors.size > 0 ? reactors : null,
    };
    this.#store.write(row, entry.v);
    this.#latestSeq = next;
    Object.assign(entry, row, { bytes: utf8Length(row.frame) });
    return { seq: next, message };
  }

  /** The stored frame (in its latest state) of a message this author sent with this client id, if still in the ring. */
  findByClientId(author: string, clientId: string): string | undefined {
    return this.#byClientId.get(idKey(author, clientId))?.frame;
  }

  /**
   * For a welcome (§7.4): without `since`, every message; with it, every
   * message whose `v > since` (new or changed since), in its latest state,
   * ordered by seq: the newest of them whose frames add up to at most
   * `maxBytes` (and at least the newest one). `gap` is true when some message after `since` is not
   * returned, because it has left the ring or did not fit (the HTTP API
   * pages through what did not fit).
   */
  after(since?: number, maxBytes = Number.POSITIVE_INFINITY): { frames: string[]; gap: boolean } {
    if (since !== undefined && since >= this.#latestSeq) return { frames: [], gap: false };
    const wanted = since === undefined ? this.#entries : this.#entries.filter((e) => e.v > since);
    let start = wanted.length;
    let bytes = 0;
    while (start > 0) {
      const next = wanted[start - 1];
      // The newest message always goes, whatever its size: one large message
      // may shorten a welcome's history but never empty it (§2.1).
      if (!next || (start < wanted.length && bytes + next.bytes > maxBytes)) break;
      bytes += next.bytes;
      start--;
    }
    const gone = since !== undefined && since < this.#evicted;
    return { frames: wanted.slice(start).map(frameOf), gap: gone || start > 0 };
  }

  /**
   * A page for the HTTP API (§7.4): messages with `v > since`, at most
   * `limit`, ordered by seq. When more are waiting, the page holds the ones
   * changed earliest, so a reader that continues with `since` = the largest
   * `v` it got sees every message once in its latest state.
   */
  page(since: number, limit: number): string[] {
    const wanted = this.#entries.filter((e) => e.v > since);
    if (wanted.length <= limit) return wanted.map(frameOf);
    const cutoff = wanted
      .map((e) => e.v)
      .sort((a, b) => a - b)
      .at(limit - 1);
    return wanted.filter((e) => cutoff !== undefined && e.v <= cutoff).map(frameOf);
  }

  #push(row: MessageRow): void {
    const entry: Entry = { ...row, bytes: utf8Length(row.frame) };
    this.#entries.push(entry);
    this.#bySeq.set(entry.seq, entry);
    if (entry.author !== null && entry.clientId !== null) {
      this.#byClientId.set(idKey(entry.author, entry.clientId), entry);
    }
    while (this.#entries.length > this.#limit) {
      const dropped = this.#entries.shift();
      if (!dropped) break;
      this.#bySeq.delete(dropped.seq);
      // An id can only be reused once its message has left the ring (the
      // room refuses duplicates before appending), so this key is the dropped one's.
      if (dropped.author !== null && dropped.clientId !== null) {
        this.#byClientId.delete(idKey(dropped.author, dropped.clientId));
      }
    }
  }
}

/**
 * §7.3: per emoji the count and the first REACTION_NAMES names, in reaction
 * order; undefined when nobody reacted.
 */
function summarize(reactors: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>>): Reactions | undefined {
  const entries = [...reactors].filter(([, who]) => who.length > 0);
  if (entries.length === 0) return undefined;
  // fromEntries defines own properties: an emoji `__proto__` stays a key, not the prototype.
  return Object.fromEntries(
    entries.map(([emoji, who]) => [
      emoji,
      { count: who.length, names: who.slice(0, REACTION_NAMES).map(([, name]) => name) },
    ]),
  );
}

const NO_REACTORS: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>> = new Map();

function rowOf(entry: Entry): MessageRow {
  const { seq, v, frame, author, clientId, reactors, evicted } = entry;
  return { seq, v, frame, author, clientId, reactors, evicted };
}

function frameOf(entry: Entry): string {
  return entry.frame;
}

function isDeleted(frame: string): boolean {
  // Encoders write `"deleted":true` only on tombstones, and a text cannot
  // hold it unescaped; cheaper than parsing the frame.
  return frame.includes('"deleted":true');
}

/** The fields of a stored chat frame (our own encoding, read back through the protocol's schema). */
function parseStored(frame: string, version?: number): StoredChat {
  const json: unknown = JSON.parse(frame);
  // Frames stored before §7 have no `v`: theirs is their seq.
  const numbered = version !== undefined && typeof json === "object" && json !== null ? { v: version, ...json } : json;
  const { type: _type, ...fields } = v.parse(ChatFrameSchema, numbered);
  return fields;
}

/** A row of the layout before §7 (no `v` in its frame): the same message, numbered. */
function withVersion(row: MessageRow): MessageRow {
  const message = parseStored(row.frame, row.seq);
  return { ...row, v: row.seq, frame: encodeChat({ ...message, v: row.seq }) };
}

function idKey(author: string, clientId: string): string {
  // NUL cannot occur in a member id (names refuse control characters).
  return `${author}\u0000${clientId}`;
}
