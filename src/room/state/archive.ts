/**
 * The room's messages beyond the ring (protocol §8): paging back, search
 * and retention's sweep, all reading the same store as the ring
 * (state/history.ts). Every answer leaves out what has expired, so the
 * sweep only frees storage: it may run late without anyone seeing an
 * expired message.
 */
import type { MessageStore } from "../storage/stores";
import { type HistoryRing, retainedSince } from "./history";

/** A page of frames (already serialized) and whether more lie past it. */
export interface FramePage {
  frames: string[];
  more: boolean;
}

/**
 * The most messages one sweep deletes: each is two statements, and an
 * alarm must stay short.
 */
export const SWEEP_BATCH = 1000;
/**
 * A message's row is deleted at most this long after it expires (or after
 * retention itself, when that is shorter): sweeps are that far apart, so a
 * busy room's alarm does not ring for every message that expires.
 */
const SWEEP_SLACK_MS = 60 * 60 * 1000;

export class Archive {
  readonly #store: MessageStore;
  readonly #ring: () => HistoryRing;
  readonly #retentionMs: number;
  readonly #now: () => number;

  /** @param ring the ring over the same store, loaded only when a sweep has to drop from it */
  constructor(store: MessageStore, ring: () => HistoryRing, retentionMs: number, now: () => number) {
    this.#store = store;
    this.#ring = ring;
    this.#retentionMs = retentionMs;
    this.#now = now;
  }

  /**
   * §8.2: with `before`, the newest `limit` retained messages below it; with
   * `after`, the oldest above it; with neither, the newest. Oldest first.
   */
  history(query: { before?: number | undefined; after?: number | undefined; limit: number }): FramePage {
    const rows = this.#store.page({ ...query, notBefore: retainedSince(this.#retentionMs, this.#now()) });
    const more = rows.length > query.limit;
    const page = rows.slice(0, query.limit).map((r) => r.frame);
    return { frames: query.after === undefined ? page.reverse() : page, more };
  }

  /** §8.3: retained messages holding every word as a word prefix, newest first, below `before`. */
  search(words: readonly string[], before: number | undefined, limit: number): FramePage {
    // The latest messages may still wait for their batch: they are indexed first.
    this.#ring().indexPending();
    const rows = this.#store.search(
      words,
      before ?? Number.MAX_SAFE_INTEGER,
      limit,
      retainedSince(this.#retentionMs, this.#now()),
    );
    return { frames: rows.slice(0, limit).map((r) => r.frame), more: rows.length > limit };
  }

  /**
   * Deletes expired messages (rows and index entries), at most SWEEP_BATCH
   * of them; when more are left, `nextSweep` is already due and the alarm
   * rings again at once. Returns how many it deleted.
   */
  sweep(now: number): number {
    const retention = this.#retentionMs;
    if (retention === 0) return 0;
    const oldest = this.#store.oldestTs();
    if (oldest === undefined || oldest >= now - retention) return 0;
    // The ring first: loaded after the delete, it would not know the seqs the deleted rows carried.
    const ring = this.#ring();
    const gone = this.#store.expire(now - retention, SWEEP_BATCH);
    ring.forget(gone);
    return gone.length;
  }

  /** When the oldest stored message will have expired, plus the slack (undefined: nothing to sweep). */
  nextSweep(): number | undefined {
    const retention = this.#retentionMs;
    if (retention === 0) return undefined;
    const oldest = this.#store.oldestTs();
    return oldest === undefined ? undefined : sweepAt(oldest, retention);
  }
}

/** When a message sent at `ts` is swept: its expiry plus the slack. */
export function sweepAt(ts: number, retentionMs: number): number {
  return ts + retentionMs + Math.min(SWEEP_SLACK_MS, retentionMs);
}
