/**
 * What the room keeps durably, as two small interfaces. The history ring and
 * the budgets keep their logic in plain classes over these, so the chat core
 * runs unchanged over in-memory stores in Node tests and over the Durable
 * Object's SQLite in production (sql-stores.ts).
 */
import type { RosterChange } from "../../shared/presence";
import type { Bucket } from "../../shared/rate-limit";
import type { Member } from "../state/socket-state";

/**
 * Who reacted to a message with what (§7.2): per emoji, [member id, name] in
 * reaction order. A Map, because an emoji is any short string a client
 * sends: `toString` or `__proto__` as a key of a plain object would hit its
 * prototype (§7.2: "any such string is an ordinary key").
 */
export type Reactors = Map<string, Array<[string, string]>>;

/** One stored message in its latest state (src/room/state/history.ts says why the layout is what it is). */
export interface MessageRow {
  /** The message's own number (the key). */
  seq: number;
  /** The seq of its latest change (a resume reads `v > since`). */
  v: number;
  /** When it was sent (its `ts`): retention (§8.1) counts from here. */
  ts: number;
  /** The chat frame as everyone receives it, already serialized. */
  frame: string;
  /** The sender's member id (session.ts), for idempotency and authorship; null for API posts. */
  author: string | null;
  clientId: string | null;
  reactors: Reactors | null;
  /** The seq of the message this one pushed out of the ring (0: none), so a resume knows what is gone. */
  evicted: number;
}

/** What a wake-up reads: the ring, and the numbers its rows alone cannot tell. */
export interface LoadedHistory {
  /** The newest `limit` messages, oldest first. */
  rows: MessageRow[];
  /** The newest event seq ever taken, as far as the rows and the counters say. */
  latest: number;
  /** The newest seq known to have left the ring (or storage), as far as the counters say. */
  gone: number;
  /** The newest stored message older than the ring (0: none): it has left the ring. */
  older: number;
  /** Every message up to this seq has its words in the search index; later ones wait for the next batch. */
  indexed: number;
  /** Rows of an older layout, every one (not only the ring): the caller writes them again with `migrate`. */
  legacy?: MessageRow[];
}

/** A page of retained messages (§8.2): `before` or `after` a seq, at least `notBefore` old, at most `limit`. */
export interface PageQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
  /** The oldest `ts` still retained (§8.1). */
  notBefore: number;
}

export interface MessageStore {
  load(limit: number): LoadedHistory;
  /** A new message; its words join the search index later, in a batch (`index`). */
  insert(row: MessageRow): void;
  /**
   * Adds the words of up to `max` messages stored after seq `after` to the
   * search index in one go (`words` gives a message's, null for none), and
   * keeps the new cursor; returns it (`after` when nothing was waiting).
   */
  index(after: number, max: number, words: (row: MessageRow) => string | null): number;
  /**
   * The same with the words already at hand: adds each `[seq, words]` (null:
   * none; every seq a stored message's) in one go, and keeps the last seq as the cursor.
   */
  indexWords(batch: ReadonlyArray<readonly [number, string | null]>): void;
  /** A message's new state under its seq; `words` replace its index entry, null removes it, undefined keeps it. */
  update(row: MessageRow, words: string | null | undefined): void;
  /** One stored message, in the ring or beyond it. */
  read(seq: number): MessageRow | undefined;
  /** Up to `limit + 1` rows, ordered away from the cursor (newest first for `before` or neither, oldest first for `after`). */
  page(query: PageQuery): MessageRow[];
  /** Up to `limit + 1` messages holding every word as a word prefix, `seq < before`, newest first. */
  search(words: readonly string[], before: number, limit: number, notBefore: number): MessageRow[];
  /** Deletes up to `max` of the oldest messages sent before `cutoff`, with their index entries; returns their seqs. */
  expire(cutoff: number, max: number): number[];
  /** Deletes every message below `seq` (HISTORY_RETENTION_DAYS = 0: nothing beyond the ring). */
  dropBefore(seq: number): void;
  /** The seq of the oldest stored message. */
  oldestSeq(): number | undefined;
  /** The `ts` of the oldest stored message. */
  oldestTs(): number | undefined;
  /** Keeps the counters the rows may no longer show (after a delete beyond the ring, or an expiry). */
  mark(latest: number, gone: number): void;
  /** Writes rows of an older layout in this one and drops the old tables (their words follow in a batch). */
  migrate(rows: readonly MessageRow[]): void;
}

export interface BucketStore {
  load(): Iterable<[string, Bucket]>;
  /** Keeps a bucket until `fullAt`, when it is full again and can be forgotten. */
  put(key: string, bucket: Bucket, fullAt: number): void;
  /** Forgets every bucket full by `now`. */
  prune(now: number): void;
  /** Whether anything was ever put here. */
  exists(): boolean;
}

/**
 * A member who dropped without a clean close and keeps their place until
 * `until` (presence grace, §5.4). They have no socket, so no attachment can
 * hold them through an eviction: they are a row until they return or the
 * grace ends.
 */
export interface AwayRow {
  member: Member;
  /** The member's chat bucket when they dropped, so returning refills nothing. */
  bucket: Bucket;
  /** The address they dropped from (a guest's ban holds it too, §6.2). */
  address: string;
  until: number;
}

export interface AwayStore {
  load(): AwayRow[];
  put(row: AwayRow): void;
  delete(key: string): void;
}

/** §10.1: a user's read cursor moved, for the receipts a batch carries. */
export interface ReadChange {
  kind: "read";
  who: { name: string; user: string };
  seq: number;
}

/** §9.2, §10.1: one change, numbered, as the presence journal keeps it until a batch has carried it. */
export type JournalEntry = (RosterChange | ReadChange) & {
  /** The change's number; every version-3 socket knows the roster up to some number. */
  n: number;
  ts: number;
};

/** The last batch that went out (state/presence.ts): what every version-3 socket welcomed before it knows. */
export interface PresenceTick {
  /** How many batches went out, this one included. */
  n: number;
  /** The last change it carried. */
  through: number;
  at: number;
  count: number;
  large: boolean;
}

export interface PresenceStore {
  load(): { entries: JournalEntry[]; tick: PresenceTick | undefined };
  append(entry: JournalEntry): void;
  /** A batch went out: keeps it, and forgets the changes it carried. */
  ticked(tick: PresenceTick): void;
}

/** §11.1: an uploaded file's row; `seq` once a message carries it. */
export type FileRow = {
  id: string;
  /** The uploader's member id (state/socket-state.ts memberId). */
  owner: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
  uploaded: number;
  seq?: number;
};

export interface FileStore {
  insert(row: FileRow): void;
  get(id: string): FileRow | undefined;
  /** The files become the message's (§11.2). */
  attach(ids: readonly string[], seq: number): void;
  /** The files a message carries, in no particular order. */
  ofMessage(seq: number): FileRow[];
  delete(ids: readonly string[]): void;
  /** Up to `max` unattached files uploaded at or before `cutoff`. */
  unattachedBefore(cutoff: number, max: number): string[];
  /** Up to `max` files attached to messages below `seq` (messages no longer stored). */
  attachedBelow(seq: number, max: number): string[];
  /** When the oldest unattached file was uploaded. */
  oldestUnattached(): number | undefined;
  /** The lowest seq any file is attached to. */
  lowestAttached(): number | undefined;
}

/**
 * §10: a verified user the room remembers (§10.2: "every verified user who
 * joined it within retention") with their read cursor (§10.1).
 */
export interface ReaderRow {
  user: string;
  /** Their latest name in this room. */
  name: string;
  /** Their latest join. */
  joined: number;
  /** The read cursor: everything up to this seq is read. */
  seq: number;
  /** When the cursor last moved (their activity in the room, §10.3). */
  readAt: number;
}

export interface ReadStore {
  get(user: string): ReaderRow | undefined;
  put(row: ReaderRow): void;
  /** Up to `max` remembered users, the most recently joined first. */
  recent(max: number): ReaderRow[];
  /** Forgets the users whose latest join was before `cutoff` (§8.1 retention). */
  forgetBefore(cutoff: number): void;
  /** The verified users message `seq` mentions now (replacing what it mentioned before; none: forgets it). */
  mention(seq: number, users: readonly string[]): void;
  /** Forgets the mentions of messages below `seq` (no longer stored). */
  dropMentionsBelow(seq: number): void;
  /**
   * §10.2: retained, not deleted messages after `after` that `author` (a
   * member id) did not write, and how many of them mention `user`.
   */
  counts(user: string, author: string, after: number, notBefore: number): { unread: number; mentions: number };
}
