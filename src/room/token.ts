/**
 * Reclaim tokens: the proof that a new socket belongs to the person who
 * holds a name. 144 random bits from the platform CSPRNG, base64url-encoded
 * (24 characters), compared in constant time so response timing reveals
 * nothing about how much of a guess was right.
 */
const TOKEN_BYTES = 18;

export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_");
}

const encoder = new TextEncoder();

export function tokensEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  // The length of a token is public (always 24), so this early exit leaks nothing.
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}
