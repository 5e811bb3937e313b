/**
 * What the room keeps durably, as two small interfaces. The history ring and
 * the budgets keep their logic in plain classes over these, so the chat core
 * runs unchanged over in-memory stores in Node tests and over the Durable
 * Object's SQLite in production (sql-stores.ts).
 */
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
  /** The message's own number. */
  seq: number;
  /** The seq of its latest change (the key: a resume reads `v > since`). */
  v: number;
  /** The chat frame as everyone receives it, already serialized. */
  frame: string;
  /** The sender's member id (session.ts), for idempotency and authorship; null for API posts. */
  author: string | null;
  clientId: string | null;
  reactors: Reactors | null;
  /** The seq of the message this one pushed out of the ring (0: none), so a resume knows what is gone. */
  evicted: number;
}

export interface RingStore {
  /** Every stored message, oldest first; `legacy` when they came from an older layout and must be written again. */
  load(): { rows: MessageRow[]; legacy: boolean };
  /** One statement, one row: a new row, or (`replacing` = a stored v) that row overwritten. */
  write(row: MessageRow, replacing?: number): void;
  /** Replaces everything (a layout migration, a smaller HISTORY_LIMIT). */
  replaceAll(rows: readonly MessageRow[]): void;
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
