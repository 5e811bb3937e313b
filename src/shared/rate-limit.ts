/**
 * Token buckets: `burst` tokens, refilled continuously at `perSec`. A bucket
 * is a plain value, not a class, because it lives in socket attachments and
 * SQLite rows and must survive hibernation as JSON-able data.
 */
import * as v from "valibot";

export interface Bucket {
  /** Tokens left at time `at` (fractional while refilling; negative while in debt). */
  tokens: number;
  /** Milliseconds since the epoch when `tokens` was computed. */
  at: number;
}

export interface Rate {
  burst: number;
  perSec: number;
}

export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/** Tokens the bucket holds at `now`. */
export function tokensAt(bucket: Bucket, rate: Rate, now: number): number {
  // Clocks in workerd only move forward between I/O, but an attachment
  // written on another machine (after a migration) may carry a later `at`.
  const elapsed = Math.max(0, now - bucket.at);
  return Math.min(rate.burst, bucket.tokens + (elapsed * rate.perSec) / 1000);
}

/**
 * Spends `cost` tokens if the bucket holds them. Returns the bucket after
 * the spend, or null when the request must be refused (the bucket is then
 * left unchanged, so refused requests do not push the refill further away).
 */
export function spend(bucket: Bucket, rate: Rate, now: number, cost = 1): Bucket | null {
  const tokens = tokensAt(bucket, rate, now);
  if (tokens < cost) return null;
  return { tokens: tokens - cost, at: now };
}

/**
 * Like spend, for costs that can exceed the whole burst (a large welcome
 * against a byte budget): allowed while the bucket is not empty, which may
 * leave it in debt, so a single large answer always fits and the next waits
 * until the debt is refilled.
 */
export function spendIntoDebt(bucket: Bucket, rate: Rate, now: number, cost: number): Bucket | null {
  const tokens = tokensAt(bucket, rate, now);
  if (tokens <= 0) return null;
  return { tokens: tokens - cost, at: now };
}

/** When the bucket will be full again: until then it must be remembered, after that it can be forgotten. */
export function fullAt(bucket: Bucket, rate: Rate): number {
  return bucket.at + (Math.max(0, rate.burst - bucket.tokens) * 1000) / rate.perSec;
}

/** Of two buckets, the one holding fewer tokens at `now`. */
export function emptier(a: Bucket, b: Bucket, rate: Rate, now: number): Bucket {
  return tokensAt(a, rate, now) <= tokensAt(b, rate, now) ? a : b;
}

/** The type guard for a bucket read back from an attachment or storage. */
/** A bucket as storage or an attachment holds it. */
export const BucketSchema = v.looseObject({ tokens: v.number(), at: v.number() });

export function isBucket(value: unknown): value is Bucket {
  return v.is(BucketSchema, value);
}
