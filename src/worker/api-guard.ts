/**
 * ApiGuard: throttles wrong API tokens, and HTTP searches (§8.4:
 * SEARCHES_PER_MINUTE over all rooms), one Durable Object per client
 * address (`getByName` of the address key, src/worker/address.ts).
 *
 * An API token compared in constant time still falls to enough guesses, so
 * each address may present API_FAILURES_PER_MINUTE wrong tokens a minute
 * (a bucket of that many, refilled over a minute); past that its requests
 * with a token are answered 429 before the token is even compared, so a
 * right guess cannot be told from a wrong one either. Only failures spend:
 * a bot with the right token is never slowed down.
 *
 * The bucket is in storage, not memory, so waiting for the object to be
 * evicted does not refill it; the key is deleted once the bucket is full
 * again, which is what an address that never failed looks like.
 */
import { DurableObject } from "cloudflare:workers";
import { type Bucket, fullAt, fullBucket, isBucket, type Rate, spend, tokensAt } from "../shared/rate-limit";

const KEY = "failures";
const SEARCHES = "searches";

export class ApiGuard extends DurableObject<Env> {
  /** 0 when the address may try a token now, otherwise milliseconds until it may. */
  retryAfter(failuresPerMinute: number): number {
    const rate = perMinute(failuresPerMinute);
    const bucket = this.#bucket();
    if (!bucket) return 0;
    const now = Date.now();
    if (fullAt(bucket, rate) <= now) {
      this.ctx.storage.kv.delete(KEY);
      return 0;
    }
    const tokens = tokensAt(bucket, rate, now);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / rate.perSec);
  }

  /** Records one wrong token. */
  failed(failuresPerMinute: number): void {
    const rate = perMinute(failuresPerMinute);
    const now = Date.now();
    const next = spend(this.#bucket() ?? fullBucket(rate.burst, now), rate, now);
    // An empty bucket stays empty: retryAfter already refuses the next try.
    if (next) this.ctx.storage.kv.put(KEY, next);
  }

  /**
   * Spends one search: 0 when it may go ahead, otherwise milliseconds until
   * one may. A minute's bucket in storage, like the failures.
   */
  search(searchesPerMinute: number): number {
    const rate = perMinute(searchesPerMinute);
    const now = Date.now();
    const bucket = this.#bucket(SEARCHES) ?? fullBucket(rate.burst, now);
    const next = spend(bucket, rate, now);
    if (!next) return Math.ceil(((1 - tokensAt(bucket, rate, now)) * 1000) / rate.perSec);
    this.ctx.storage.kv.put(SEARCHES, next);
    return 0;
  }

  #bucket(key = KEY): Bucket | undefined {
    const value: unknown = this.ctx.storage.kv.get(key);
    return isBucket(value) ? value : undefined;
  }
}

function perMinute(n: number): Rate {
  return { burst: n, perSec: n / 60 };
}
