/**
 * The room's limits that follow a person rather than a socket (protocol
 * §2.4): whatever number of sockets and names one address uses, and however
 * often a name leaves and comes back, these budgets are shared.
 *
 * Where each budget lives, and why:
 * - An address's join budget (JOINS_PER_MINUTE × 5 per minute), its read
 *   budget (READS_PER_MINUTE × 5) and a departed name's chat bucket are
 *   rows in SQLite. Both refill slowly
 *   enough (a minute; RATE_BURST / RATE_PER_SEC) that an eviction in
 *   between must not hand out a fresh budget, and hibernation keeps only
 *   attachments and storage. A row is deleted once its bucket is full
 *   again: a full bucket is what an unknown key gets anyway.
 * - An address's chat bucket and the last relayed `typing` per name are
 *   memory only. They are touched on every chat, and a write per chat is
 *   what the ring is designed to avoid; they refill within seconds
 *   (ADDRESS_RATE_BURST / ADDRESS_RATE_PER_SEC = 2 s, typing 2 s), and the
 *   runtime evicts an object only after EVICTION_IDLE_MS without any event,
 *   by which time either would have refilled anyway. A member's own chat
 *   bucket follows the same rule when its limits allow (ChatCore's #spend).
 *
 * Nothing here creates storage until a join writes: a room that is only
 * read (HTTP API) stays without a database file.
 */
import { ADDRESS_JOINS_FACTOR, ADDRESS_READS_FACTOR, type Limits } from "../../shared/limits";
import { TYPING_INTERVAL_MS } from "../../shared/protocol";
import { type Bucket, fullAt, fullBucket, type Rate, spend, tokensAt } from "../../shared/rate-limit";
import type { BucketStore } from "../storage/stores";

/**
 * How long a hibernatable object goes without any event before the runtime
 * evicts it: "currently, it is after 10 seconds of inactivity" (Cloudflare,
 * "Lifecycle of a Durable Object"), and the same in local workerd
 * (test/hibernation shows it). A budget that refills within this needs no
 * write when it is spent: by the time the object can be evicted it is full,
 * and a stale copy (an older attachment, or none) is full by then as well.
 * A deploy or restart also ends the object, but it ends its sockets too.
 */
export const EVICTION_IDLE_MS = 10_000;

/** Whether a bucket of this rate, however empty, is full again before the object can be evicted. */
export function refillsBeforeEviction(rate: Rate): boolean {
  return (rate.burst / rate.perSec) * 1000 <= EVICTION_IDLE_MS;
}

/** Memory maps are swept of refilled entries when they pass this size. */
const SWEEP_AT = 1024;

export class RoomBudgets {
  readonly #store: BucketStore;
  readonly #addressPosts: Rate;
  readonly #addressJoins: Rate;
  readonly #names: Rate;
  readonly #addressReads: Rate;
  readonly #uploads: Rate;
  readonly #posts = new Map<string, Bucket>();
  readonly #typing = new Map<string, number>();
  /** The `buckets` table in memory, loaded on first use after a wake-up. */
  #durable: Map<string, Bucket> | undefined;

  constructor(store: BucketStore, limits: Limits) {
    this.#store = store;
    this.#addressPosts = { burst: limits.addressRateBurst, perSec: limits.addressRatePerSec };
    const joins = limits.joinsPerMinute * ADDRESS_JOINS_FACTOR;
    this.#addressJoins = { burst: joins, perSec: joins / 60 };
    this.#names = { burst: limits.rateBurst, perSec: limits.ratePerSec };
    const reads = limits.readsPerMinute * ADDRESS_READS_FACTOR;
    this.#addressReads = { burst: reads, perSec: reads / 60 };
    this.#uploads = { burst: limits.uploadsPerHour, perSec: limits.uploadsPerHour / 3600 };
  }

  /**
   * Spends one of UPLOADS_PER_HOUR (§11.1) from every key (a verified
   * `sub`; a guest's name and address, so a new name buys no more), or
   * none when any is empty. In storage: it refills over an hour.
   */
  upload(keys: readonly string[], now: number): boolean {
    const next = keys.map(
      (k) =>
        [k, spend(this.#load().get(`u:${k}`) ?? fullBucket(this.#uploads.burst, now), this.#uploads, now)] as const,
    );
    if (next.some(([, bucket]) => bucket === null)) return false;
    for (const [key, bucket] of next) if (bucket) this.#put(`u:${key}`, bucket, fullAt(bucket, this.#uploads));
    return true;
  }

  /**
   * Spends one of the address's reads (READS_PER_MINUTE × 5 a minute, all
   * its sockets together), so opening more sockets or reconnecting does not
   * buy more. In storage: it refills over a minute, past any eviction.
   */
  read(address: string, now: number): boolean {
    const key = `r:${address}`;
    const next = spend(this.#load().get(key) ?? fullBucket(this.#addressReads.burst, now), this.#addressReads, now);
    if (!next) return false;
    this.#put(key, next, fullAt(next, this.#addressReads));
    return true;
  }

  /** Spends one chat/dm token of the address's shared bucket; false when it is empty. */
  post(address: string, now: number): boolean {
    const next = spend(this.#posts.get(address) ?? fullBucket(this.#addressPosts.burst, now), this.#addressPosts, now);
    if (!next) return false;
    this.#posts.set(address, next);
    if (this.#posts.size > SWEEP_AT) sweep(this.#posts, (b) => fullAt(b, this.#addressPosts) <= now);
    return true;
  }

  /** Whether a `typing` from this name may be relayed now (one per TYPING_INTERVAL_MS). */
  typing(nameKey: string, now: number): boolean {
    const last = this.#typing.get(nameKey);
    if (last !== undefined && now - last < TYPING_INTERVAL_MS) return false;
    this.#typing.set(nameKey, now);
    if (this.#typing.size > SWEEP_AT) sweep(this.#typing, (t) => now - t >= TYPING_INTERVAL_MS);
    return true;
  }

  /**
   * Whether the address (and a verified user's `sub`, §6 "limits by
   * identity") may join once more; nothing is spent until `joined`. Each
   * has JOINS_PER_MINUTE × 5 a minute.
   */
  canJoin(address: string, user: string | undefined, now: number): boolean {
    return this.#joinKeys(address, user).every(
      (k) => spend(this.#joinBucket(k, now), this.#addressJoins, now) !== null,
    );
  }

  /** Spends one join of the address's (and user's) budget; call after a join succeeded. */
  joined(address: string, user: string | undefined, now: number): void {
    for (const key of this.#joinKeys(address, user)) {
      const next = spend(this.#joinBucket(key, now), this.#addressJoins, now);
      if (next) this.#put(key, next, fullAt(next, this.#addressJoins));
    }
  }

  /**
   * Slow mode (§6.2): how long until these keys (a member, and a guest's
   * address) may post again, in ms; 0 when they may now. One post per
   * `seconds`, kept in storage: a slow mode outlasts any eviction.
   */
  slowWait(keys: readonly string[], seconds: number, now: number): number {
    const rate = slowRate(seconds);
    let wait = 0;
    for (const key of keys) {
      const bucket = this.#load().get(`s:${key}`);
      if (!bucket) continue;
      const missing = 1 - tokensAt(bucket, rate, now);
      if (missing > 0) wait = Math.max(wait, Math.ceil((missing * 1000) / rate.perSec));
    }
    return wait;
  }

  /** A post went out in slow mode: each key waits `seconds` from now. */
  slowSpent(keys: readonly string[], seconds: number, now: number): void {
    const rate = slowRate(seconds);
    for (const key of keys) {
      const next = { tokens: 0, at: now };
      this.#put(`s:${key}`, next, fullAt(next, rate));
    }
  }

  /** Keeps a departing name's chat bucket until it is full again, so a rejoin does not refill it. */
  remember(nameKey: string, bucket: Bucket, now: number): void {
    const full = fullAt(bucket, this.#names);
    if (full > now) this.#put(`n:${nameKey}`, bucket, full);
  }

  /** The bucket a name left with, if it has not refilled since. */
  recall(nameKey: string): Bucket | undefined {
    return this.#load().get(`n:${nameKey}`);
  }

  /** Whether anyone ever joined this room: every join stores its address's budget. */
  anyoneJoined(): boolean {
    return this.#store.exists();
  }

  /** Forgets every budget that has refilled; the room's alarm calls this. */
  prune(now: number): void {
    sweep(this.#posts, (b) => fullAt(b, this.#addressPosts) <= now);
    sweep(this.#typing, (t) => now - t >= TYPING_INTERVAL_MS);
    this.#store.prune(now);
    this.#durable = undefined;
  }

  /** Stored keys of the join budgets: the address's as before (`a:…`), a user's beside it. */
  #joinKeys(address: string, user: string | undefined): string[] {
    return user === undefined ? [`a:${address}`] : [`a:${address}`, `u:${user}`];
  }

  #joinBucket(key: string, now: number): Bucket {
    return this.#load().get(key) ?? fullBucket(this.#addressJoins.burst, now);
  }

  #load(): Map<string, Bucket> {
    this.#durable ??= new Map(this.#store.load());
    return this.#durable;
  }

  #put(key: string, bucket: Bucket, full: number): void {
    this.#load().set(key, bucket);
    this.#store.put(key, bucket, full);
  }
}

function slowRate(seconds: number): Rate {
  return { burst: 1, perSec: 1 / seconds };
}

function sweep<V>(map: Map<string, V>, done: (value: V) => boolean): void {
  for (const [key, value] of map) if (done(value)) map.delete(key);
}
