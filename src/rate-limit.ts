/**
 * A token bucket for chat and dm frames: `burst` tokens, refilled
 * continuously at `perSec`. It is a plain value, not a class, because it
 * lives in the socket's attachment and must survive hibernation as JSON-able
 * data; the room writes it back after every spend.
 */
export interface Bucket {
  /** Tokens left at time `at` (fractional while refilling). */
  tokens: number;
  /** Milliseconds since the epoch when `tokens` was computed. */
  at: number;
}

export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/**
 * Spends one token if there is one. Returns the bucket after the spend, or
 * null when the frame must be refused (the bucket is then left unchanged, so
 * refused frames do not push the refill further away).
 */
export function spend(bucket: Bucket, burst: number, perSec: number, now: number): Bucket | null {
  // Clocks in workerd only move forward between I/O, but an attachment
  // written on another machine (after a migration) may carry a later `at`.
  const elapsed = Math.max(0, now - bucket.at);
  const tokens = Math.min(burst, bucket.tokens + (elapsed * perSec) / 1000);
  if (tokens < 1) return null;
  return { tokens: tokens - 1, at: now };
}
