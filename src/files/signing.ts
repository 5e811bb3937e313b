/**
 * Signed file URLs (protocol §11.3): `/files/<room>/<id>?exp=<s>&sig=<mac>`,
 * where `mac` is HMAC-SHA256 with FILES_SECRET over the room, the id and the
 * expiry, so a URL opens one file until one moment and nothing else. Web
 * Crypto only: the key is imported once per isolate and the check is the
 * runtime's own constant-time `verify`.
 *
 * Expiries are rounded down to a step (a tenth of FILE_URL_TTL_S, at most
 * ten minutes): every answer within one step carries the same URL for a
 * file, so browsers cache the file and the room signs each file once per
 * step instead of once per answer. A URL is therefore valid for between
 * FILE_URL_TTL_S less one step and FILE_URL_TTL_S (docs/protocol.md §11.3).
 */
import { base64url, filePath } from "../shared/files";

/** At least this many bytes of FILES_SECRET turn uploads on (§11). */
export const MIN_FILES_SECRET_BYTES = 32;
const MAX_STEP_S = 600;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

function signed(room: string, id: string, exp: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encoder.encode(`${room}\n${id}\n${exp}`));
}

export class UrlSigner {
  readonly #secret: string;
  readonly #ttlS: number;
  /** Seconds. */
  readonly step: number;

  constructor(secret: string, ttlS: number) {
    this.#secret = secret;
    this.#ttlS = ttlS;
    this.step = Math.max(1, Math.min(MAX_STEP_S, Math.floor(ttlS / 10)));
  }

  /** The expiry (s since the epoch) of every URL signed at `nowMs`. */
  expiry(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    return now - (now % this.step) + this.#ttlS;
  }

  async sign(room: string, id: string, exp: number): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await hmacKey(this.#secret), signed(room, id, exp));
    return `${filePath(room, id)}?exp=${exp}&sig=${base64url(new Uint8Array(mac))}`;
  }

  /** Whether `sig` is this file's signature for `exp` and `exp` is still ahead of `nowMs`. */
  async verify(room: string, id: string, exp: string | undefined, sig: string | undefined, nowMs: number) {
    if (exp === undefined || sig === undefined || !/^\d{1,12}$/.test(exp)) return false;
    const expiry = Number(exp);
    if (expiry * 1000 <= nowMs) return false;
    const mac = fromBase64url(sig);
    if (!mac) return false;
    return crypto.subtle.verify("HMAC", await hmacKey(this.#secret), mac, signed(room, id, expiry));
  }
}

function fromBase64url(s: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) return undefined;
  const binary = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** FILES_SECRET when it is long enough to turn uploads on (§11), else undefined. */
export function filesSecret(env: { FILES_SECRET?: unknown }): string | undefined {
  const secret = env.FILES_SECRET;
  if (typeof secret !== "string") return undefined;
  return encoder.encode(secret).byteLength >= MIN_FILES_SECRET_BYTES ? secret : undefined;
}
