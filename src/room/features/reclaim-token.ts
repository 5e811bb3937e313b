/**
 * Reclaim tokens: the proof that a new socket belongs to the person who
 * holds a name. 144 random bits from the platform CSPRNG, base64url-encoded
 * (24 characters). They are compared in constant time (the shell hands the
 * core the runtime's comparison, chat-room.ts), so response timing reveals
 * nothing about how much of a guess was right.
 */
const TOKEN_BYTES = 18;

export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_");
}
