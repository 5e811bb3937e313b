/**
 * The room's history (protocol §7, §8): every retained message in its latest
 * state, kept in a MessageStore (SQLite in production), with the newest
 * HISTORY_LIMIT of them (the ring, what a join replays) also in memory, and
 * the room's one event sequence: a new message, an edit, a delete and a
 * reaction change each take the next `seq`. Paging back and search read the
 * store (state/archive.ts).
 *
 * Layout, and why:
 * - One row per message, keyed by seq, written once when the message is
 *   sent and rewritten in place by each change: a new message is one row,
 *   a change one row (an edit or delete of an indexed message also replaces
 *   or drops its index entry). The search index takes new messages in
 *   batches of INDEX_BATCH (one FTS5 segment each, not one per chat), with
 *   the words kept since each message's append (nothing read back), and
 *   a search indexes what still waits first. A message leaving the ring is not written
 *   at all: the ring is just the newest rows. Only HISTORY_RETENTION_DAYS =
 *   0 (the ring only, §8.1) deletes the row that leaves.
 * - A resume (`v > since`) reads the ring in memory, so `v` needs no index.
 *   The newest event is either the newest message or a change to a message
 *   in the ring, so the largest `v` in the ring is the room's latest seq;
 *   the two events that break that (a delete beyond the ring, an expiry)
 *   write the counters, so seq can neither repeat nor skip across
 *   hibernation or restarts.
 * - Each row stores the chat frame already serialized: broadcasts, welcomes
 *   and pages send those bytes as they are.
 * - A deleted message is a tombstone: its row keeps who sent it and when,
 *   and its text, reactions and index entry are gone for good.
 * - Each new message's row records the seq of the message it pushed out of
 *   the ring (`evicted`), so a resume knows whether something after its
 *   `since` has left the ring, even though seqs of messages are not
 *   consecutive.
 * - Retention (§8.1) is a filter on every read (`notBefore`), so a message
 *   is gone from every answer the moment it expires; the alarm's sweep
 *   (state/archive.ts) deletes the rows later.
 *
 * The ring is loaded once per wake-up (at most HISTORY_LIMIT rows), and only
 * when a frame needs history: a typing frame or a close never reads storage.
 */

import { encodeChat, encodeNewChat, type StoredChat } from "../../shared/server-frames";
import { utf8Length } from "../../shared/text";
import type { MessageRow, MessageStore, Reactors } from "../storage/stores";
import { hasFiles, indexWords, isDeleted, parseStored, summarize, withVersion } from "./stored-message";

interface Entry extends MessageRow {
  /** UTF-8 length of `frame`, for the welcome's byte cap. */
  bytes: number;
  /** Whether `frame` carries files (§11), whose URLs a welcome must sign: read once, not on every join. */
  files: boolean;
}

export type NewMessage = Omit<StoredChat, "seq" | "v">;

/** A stored message as a change sees it: its fields and who reacted. */
export interface Message {
  readonly seq: number;
  readonly author: string | null;
  readonly deleted: boolean;
  readonly reactors: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>>;
  /** Whether it carries files (§11.2). */
  readonly hasFiles: boolean;
}

export interface HistoryOptions {
  /** HISTORY_LIMIT: the ring. */
  limit: number;
  /** HISTORY_RETENTION_DAYS in ms; 0 keeps nothing beyond the ring and lets nothing expire. */
  retentionMs: number;
  now: () => number;
  /** A message was stored at `ts` (retention's sweep wants an alarm for it). */
  stored?: (ts: number) => void;
}

/**
 * Messages the search index takes at once. FTS5 writes one segment per
 * transaction that touches it; one per chat made the throughput scenario
 * 20 % slower, one per 64 costs a search at most 64 messages of catching up.
 */
export const INDEX_BATCH = 64;

/** The oldest `ts` retained at `now` (§8.1); with retention 0, everything. */
export function retainedSince(retentionMs: number, now: number): number {
  return retentionMs > 0 ? now - retentionMs : Number.MIN_SAFE_INTEGER;
}

export class HistoryRing {
  readonly #store: MessageStore;
  readonly #limit: number;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #stored: (ts: number) => void;
  /** Oldest first, by seq; never longer than #limit. */
  readonly #entries: Entry[] = [];
  readonly #bySeq = new Map<number, Entry>();
  /**
   * A retry's lookup (§2.2), by author and then by client id: two lookups
   * of strings the room already holds, where one key joining the two was
   * a new string to build and hash three times per chat (npm run bench:core).
   */
  readonly #byClientId = new Map<string, Map<string, Entry>>();
  #latestSeq = 0;
  /** The newest seq that has left the ring (0: none). */
  #evicted = 0;
  /** Every message up to here is in the search index (the rest join in the next batch). */
  #indexed = 0;
  /**
   * The words of the messages this instance stored that wait for the index,
   * by seq, so a batch needs neither to read them back nor to parse their
   * frames. Complete for seqs after #wordsFrom (the latest seq at wake-up);
   * those before it are read back from the store.
   */
  readonly #waitingWords = new Map<number, string | null>();
  readonly #wordsFrom: number;

  constructor(store: MessageStore, options: HistoryOptions) {
    this.#store = store;
    this.#limit = options.limit;
    this.#retentionMs = options.retentionMs;
    this.#now = options.now;
    this.#stored = options.stored ?? (() => {});
    const loaded = store.load(options.limit);
    let rows = loaded.rows;
    let older = loaded.older;
    let numbered = rows;
    if (loaded.legacy) {
      // Rows of an older layout: written again in this one, once; their words follow in a batch.
      numbered = loaded.legacy.map(withVersion);
      store.migrate(numbered);
      rows = numbered.slice(-options.limit);
      older = numbered.at(-rows.length - 1)?.seq ?? 0;
    }
    this.#latestSeq = Math.max(loaded.latest, ...numbered.map((r) => r.v));
    this.#evicted = Math.max(loaded.gone, older, ...numbered.map((r) => r.evicted));
    this.#indexed = loaded.indexed;
    const oldest = rows[0];
    if (this.#retentionMs === 0 && older > 0 && oldest) {
      // The ring only (§8.1): what a smaller HISTORY_LIMIT or a switch to 0 left beyond it goes.
      store.dropBefore(oldest.seq);
      store.mark(this.#latestSeq, this.#evicted);
    }
    for (const row of rows) this.#push(row);
    this.#wordsFrom = this.#latestSeq;
  }

  /** The newest seq in the room (of any event); 0 before the first. */
  get latestSeq(): number {
    return this.#latestSeq;
  }

  /** How many messages the ring holds now. */
  get size(): number {
    return this.#entries.length;
  }

  /** The seq of the oldest message in the ring (the next seq when it is empty). */
  get oldestSeq(): number {
    return this.#entries[0]?.seq ?? this.#latestSeq + 1;
  }

  /** When the newest retained message was sent (§10.3); undefined when there is none. */
  get newestTs(): number | undefined {
    const newest = this.#entries.at(-1);
    return newest && this.#retained(newest) ? newest.ts : undefined;
  }

  /** The ring's stored frames, oldest first. */
  *frames(): Generator<string> {
    for (const entry of this.#entries) yield entry.frame;
  }

  /** Whether any message in the ring carries files; most rooms' rings carry none, and a join then signs nothing. */
  get anyFiles(): boolean {
    return this.#entries.some((entry) => entry.files);
  }

  /** The oldest `ts` still retained now (§8.1); every answer leaves out anything older. */
  notBefore(): number {
    return retainedSince(this.#retentionMs, this.#now());
  }

  /**
   * Stores a message under the next seq and returns its serialized frame.
   * Storage is written first; the caller broadcasts afterwards, and the
   * runtime's output gate holds those sends until the write is durable.
   */
  append(message: NewMessage, author: string | null): string {
    const seq = this.#latestSeq + 1;
    const frame = encodeNewChat(message, seq);
    const oldest = this.#entries.length >= this.#limit ? this.#entries[0] : undefined;
    const row: MessageRow = {
      seq,
      v: seq,
      ts: message.ts,
      frame,
      author,
      clientId: message.id ?? null,
      reactors: null,
      evicted: oldest?.seq ?? 0,
    };
    this.#store.insert(row);
    if (oldest && this.#retentionMs === 0) {
      this.#store.dropBefore(oldest.seq + 1);
      // Gone before its batch (a ring smaller than INDEX_BATCH): it is never indexed.
      this.#waitingWords.delete(oldest.seq);
    }
    this.#latestSeq = seq;
    if (oldest) this.#evicted = oldest.seq;
    this.#push(row);
    this.#stored(row.ts);
    // The search index takes messages in batches: one FTS5 write per
    // INDEX_BATCH messages instead of one per chat, and a search catches
    // up on the rest first (indexPending), so none is ever missed.
    this.#waitingWords.set(seq, indexWords(message));
    if (seq - this.#indexed >= INDEX_BATCH) this.#indexBatch();
    return frame;
  }

  /** A retained message still in the ring, deleted or not (edit, react and replyTo keep to the ring, §8.1). */
  get(seq: number): Message | undefined {
    const entry = this.#bySeq.get(seq);
    return entry && this.#retained(entry) ? messageOf(entry) : undefined;
  }

  /** A retained message, in the ring or beyond it (§8.1: delete works on any). */
  retained(seq: number): Message | undefined {
    const inRing = this.get(seq);
    if (inRing || this.#retentionMs === 0 || this.#bySeq.has(seq)) return inRing;
    const row = this.#store.read(seq);
    return row && this.#retained(row) ? messageOf(row) : undefined;
  }

  /**
   * Applies one change to a retained message under the next seq, stores it,
   * and returns the message's new state and the change's seq. `change` gets
   * a copy of the message's fields and reactors, and returns the message's
   * next fields (src/shared/updates.ts) or edits the copy in place. The
   * reaction summary is always made again from the reactors.
   */
  change(
    seq: number,
    change: (message: StoredChat, reactors: Reactors) => StoredChat | undefined,
  ): { seq: number; message: StoredChat } {
    const entry = this.#bySeq.get(seq);
    const stored = entry ?? this.#store.read(seq);
    if (!stored) throw new Error(`history: no message ${seq}`);
    const next = this.#latestSeq + 1;
    const before = parseStored(stored.frame);
    // `change` may edit `before` in place: the text it had is kept aside for the index.
    const oldText = before.text;
    const reactors: Reactors = new Map(Array.from(stored.reactors ?? [], ([emoji, who]) => [emoji, who.slice()]));
    const message = change(before, reactors) ?? before;
    message.v = next;
    const summary = summarize(reactors);
    if (summary) message.reactions = summary;
    else delete message.reactions;
    const row: MessageRow = {
      ...rowOf(stored),
      v: next,
      frame: encodeChat(message),
      reactors: reactors.size > 0 ? reactors : null,
    };
    // The index follows the text: a new text replaces the words, a tombstone
    // has none. A message not indexed yet is indexed later as it is then.
    const indexed = seq <= this.#indexed;
    const words = !indexed
      ? undefined
      : message.deleted
        ? null
        : message.text !== oldText
          ? indexWords(message)
          : undefined;
    this.#store.update(row, words);
    // Not indexed yet: its batch takes the words it has then.
    if (this.#waitingWords.has(seq)) this.#waitingWords.set(seq, indexWords(message));
    this.#latestSeq = next;
    if (entry) Object.assign(entry, row, { bytes: utf8Length(row.frame), files: hasFiles(row.frame) });
    // The newest event is no longer in the ring: the counters keep its seq.
    else this.#store.mark(next, this.#evicted);
    return { seq: next, message };
  }

  /** Puts every message still waiting into the search index (before a search). */
  indexPending(): void {
    while (this.#indexBatch()) {}
  }

  /** Indexes the next INDEX_BATCH waiting messages; false when none waited. */
  #indexBatch(): boolean {
    if (this.#indexed < this.#wordsFrom) {
      // Messages stored before this wake-up: read back, their words from their frames.
      const next = this.#store.index(this.#indexed, INDEX_BATCH, rowWords);
      const moved = next !== this.#indexed;
      // Nothing left before the wake-up: what waits now is in #waitingWords.
      this.#indexed = moved ? next : this.#wordsFrom;
      for (const seq of this.#waitingWords.keys()) if (seq <= this.#indexed) this.#waitingWords.delete(seq);
      return moved || this.#waitingWords.size > 0;
    }
    const batch: Array<readonly [number, string | null]> = [];
    for (const entry of this.#waitingWords) {
      batch.push(entry);
      this.#waitingWords.delete(entry[0]);
      if (batch.length === INDEX_BATCH) break;
    }
    const last = batch.at(-1);
    if (!last) return false;
    this.#store.indexWords(batch);
    this.#indexed = last[0];
    return true;
  }

  /** The stored frame (in its latest state) of a message this author sent with this client id, if still in the ring. */
  findByClientId(author: string, clientId: string): string | undefined {
    const entry = this.#byClientId.get(author)?.get(clientId);
    return entry && this.#retained(entry) ? entry.frame : undefined;
  }

  /**
   * For a welcome (§7.4): without `since`, every message; with it, every
   * message whose `v > since` (new or changed since), in its latest state,
   * ordered by seq: the newest of them whose frames add up to at most
   * `maxBytes` (and at least the newest one). `gap` is true when some message after `since` is not
   * returned, because it has left the ring or did not fit (the HTTP API
   * pages through what did not fit). Expired messages are never returned.
   */
  after(since?: number, maxBytes = Number.POSITIVE_INFINITY): { frames: string[]; gap: boolean } {
    if (since !== undefined && since >= this.#latestSeq) return { frames: [], gap: false };
    const notBefore = this.notBefore();
    const wanted = this.#entries.filter((e) => e.ts >= notBefore && (since === undefined || e.v > since));
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
    const notBefore = this.notBefore();
    const wanted = this.#entries.filter((e) => e.v > since && e.ts >= notBefore);
    if (wanted.length <= limit) return wanted.map(frameOf);
    const cutoff = wanted
      .map((e) => e.v)
      .sort((a, b) => a - b)
      .at(limit - 1);
    return wanted.filter((e) => cutoff !== undefined && e.v <= cutoff).map(frameOf);
  }

  /**
   * The sweep deleted these messages (§8.1): they leave the ring too, and
   * the counters keep the numbering they may have carried.
   */
  forget(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const gone = new Set(seqs);
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i];
      if (entry && gone.has(entry.seq)) {
        this.#entries.splice(i, 1);
        this.#bySeq.delete(entry.seq);
        this.#forgetClientId(entry);
      }
    }
    for (const seq of seqs) this.#waitingWords.delete(seq);
    this.#evicted = Math.max(this.#evicted, ...seqs);
    this.#store.mark(this.#latestSeq, this.#evicted);
  }

  #retained(row: MessageRow): boolean {
    return this.#retentionMs === 0 || row.ts >= this.notBefore();
  }

  #push(row: MessageRow): void {
    // Field by field, not a spread of the row: this runs once per chat, and
    // the spread (a copy, then two more fields) made the core's whole chat
    // path a fifth slower in Node (npm run bench:core; workerd's V8 minds
    // it less, docs/benchmarks.md).
    const { frame } = row;
    const entry: Entry = {
      seq: row.seq,
      v: row.v,
      ts: row.ts,
      frame,
      author: row.author,
      clientId: row.clientId,
      reactors: row.reactors,
      evicted: row.evicted,
      bytes: utf8Length(frame),
      files: hasFiles(frame),
    };
    this.#entries.push(entry);
    this.#bySeq.set(entry.seq, entry);
    if (entry.author !== null && entry.clientId !== null) {
      const ids = this.#byClientId.get(entry.author);
      if (ids) ids.set(entry.clientId, entry);
      else this.#byClientId.set(entry.author, new Map([[entry.clientId, entry]]));
    }
    while (this.#entries.length > this.#limit) {
      const dropped = this.#entries.shift();
      if (!dropped) break;
      this.#bySeq.delete(dropped.seq);
      this.#forgetClientId(dropped);
    }
  }

  #forgetClientId(entry: Entry): void {
    // An id can only be reused once its message has left the ring (the room
    // refuses duplicates before appending), so the id is still this entry's.
    if (entry.author === null || entry.clientId === null) return;
    const ids = this.#byClientId.get(entry.author);
    ids?.delete(entry.clientId);
    if (ids?.size === 0) this.#byClientId.delete(entry.author);
  }
}

function messageOf(row: MessageRow): Message {
  return {
    seq: row.seq,
    author: row.author,
    deleted: isDeleted(row.frame),
    reactors: row.reactors ?? NO_REACTORS,
    hasFiles: hasFiles(row.frame),
  };
}

const NO_REACTORS: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>> = new Map();

function rowOf(row: MessageRow): MessageRow {
  const { seq, v, ts, frame, author, clientId, reactors, evicted } = row;
  return { seq, v, ts, frame, author, clientId, reactors, evicted };
}

function frameOf(entry: Entry): string {
  return entry.frame;
}

/** A stored row's words for the index (none for a tombstone). */
function rowWords(row: MessageRow): string | null {
  return indexWords(parseStored(row.frame));
}
