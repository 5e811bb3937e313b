/**
 * Compares a caller's secret with the configured one (API_TOKEN) without
 * leaking its length or content through timing: both sides are hashed to 32
 * bytes first, so the comparison is always the same size.
 */
const encoder = new TextEncoder();

export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

async function sha256(s: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(s));
}
