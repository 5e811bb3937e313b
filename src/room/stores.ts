/**
 * What the room keeps durably, as two small interfaces. The history ring and
 * the budgets keep their logic in plain classes over these, so the chat core
 * runs unchanged over in-memory stores in Node tests and over the Durable
 * Object's SQLite in production (sql-stores.ts).
 */
import type { Bucket } from "../shared/rate-limit";
import type { Member } from "./session";

/** One stored message, already serialized, in its ring slot. */
export interface RingRow {
  slot: number;
  seq: number;
  frame: string;
  /** nameKey of the sender, for idempotency; null for API posts. */
  author: string | null;
  clientId: string | null;
}

export interface RingStore {
  /** Every stored message, oldest first. */
  load(): RingRow[];
  /** One upsert: the row takes its slot, overwriting what was there. */
  write(row: RingRow): void;
  /** Replaces everything (a changed HISTORY_LIMIT re-lays the slots). */
  replaceAll(rows: readonly RingRow[]): void;
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
