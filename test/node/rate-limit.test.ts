/**
 * The token bucket (src/shared/rate-limit.ts).
 */
import { describe, expect, it } from "vitest";
import { fullBucket, spend } from "../../src/shared/rate-limit";

describe("rate bucket", () => {
  it("allows a burst, refuses the next, and refills at the given rate", () => {
    let bucket = fullBucket(3, 0);
    for (let i = 0; i < 3; i++) {
      const next = spend(bucket, { burst: 3, perSec: 2 }, 0);
      expect(next).not.toBeNull();
      bucket = next ?? bucket;
    }
    expect(spend(bucket, { burst: 3, perSec: 2 }, 0)).toBeNull();
    expect(spend(bucket, { burst: 3, perSec: 2 }, 499)).toBeNull(); // 0.998 tokens
    expect(spend(bucket, { burst: 3, perSec: 2 }, 500)).not.toBeNull(); // 1 token after 0.5 s at 2/s
  });

  it("never refills beyond the burst", () => {
    const bucket = spend(fullBucket(2, 0), { burst: 2, perSec: 10 }, 0);
    expect(bucket?.tokens).toBe(1);
    const later = spend(bucket ?? fullBucket(2, 0), { burst: 2, perSec: 10 }, 60_000);
    expect(later?.tokens).toBe(1);
  });

  it("ignores a clock that went backwards", () => {
    const bucket = { tokens: 0, at: 10_000 };
    expect(spend(bucket, { burst: 5, perSec: 1 }, 5_000)).toBeNull();
  });
});
