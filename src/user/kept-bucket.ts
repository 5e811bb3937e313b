/**
 * A per-minute budget kept in a Durable Object's synchronous KV storage,
 * so waiting for the object to be evicted does not refill it (the user's
 * lists, a gate's token checks).
 */
import { type Bucket, fullBucket, isBucket, spend } from "../shared/rate-limit";

/** Spends one of `perMinute` tokens under `key`; false when none is left. */
export function spendKept(kv: SyncKvStorage, key: string, perMinute: number, now = Date.now()): boolean {
  const rate = { burst: perMinute, perSec: perMinute / 60 };
  const stored: unknown = kv.get(key);
  const bucket: Bucket = isBucket(stored) ? stored : fullBucket(rate.burst, now);
  const next = spend(bucket, rate, now);
  if (!next) return false;
  kv.put(key, next);
  return true;
}
