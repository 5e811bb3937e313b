/**
 * Identity tokens (protocol §5.1): a JWT the host site mints for a signed-in
 * user, checked here with `jose`, the JOSE library made for Web Crypto
 * runtimes (no Node built-ins, tree-shaken to what is used). No crypto is
 * written by hand in this project.
 *
 * The rules that keep a token from being forged, in the order they apply:
 * - The algorithm is pinned by where the key comes from, never by the
 *   token: HS256 is checked against AUTH_SECRET only, RS256/ES256 against
 *   the key set at AUTH_JWKS_URL only. So `none` is refused, and an HS256
 *   token "signed" with the RSA public key (the classic confusion attack) is
 *   checked against the secret and fails.
 * - `exp` and `aud` are required, `iss` when AUTH_ISSUER is set; `exp` and
 *   `nbf` are checked with 60 s of clock skew.
 * - The claims the room uses (`sub`, `name`, `role`, `rooms`) must have the
 *   shapes §5.1 gives them; anything else makes the token invalid.
 */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import * as v from "valibot";
import { ConfigError } from "../shared/limits";
import { BIDI_CONTROL, ROLES, type Role } from "../shared/protocol";
import { codePointLength } from "../shared/text";

/** Who a valid token says the user is. `name` is the token's display name (or `sub`), not yet checked against join's rules. */
export interface Identity {
  user: string;
  name: string;
  role: Role;
  /** The `rooms` claim; undefined when the token has none (every room but the private ones). */
  rooms?: readonly string[];
}

export type Verified = { ok: true; identity: Identity } | { ok: false; message: string };

export interface AuthConfig {
  /** AUTH_SECRET as key bytes; undefined: HS256 tokens are refused. */
  secret?: Uint8Array;
  /** AUTH_JWKS_URL; undefined: RS256/ES256 tokens are refused. */
  jwksUrl?: URL;
  audience: string;
  /** AUTH_ISSUER; undefined: any `iss` (or none) is accepted. */
  issuer?: string;
}

/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits. */
export const MIN_AUTH_SECRET_BYTES = 32;
/** §5.1: a token's `nbf`/`exp` are honoured with this much clock skew. */
export const CLOCK_SKEW_S = 60;
/** A key server slower than this fails the join (auth_invalid) instead of stalling it. */
export const JWKS_TIMEOUT_MS = 3000;
/**
 * At most one fetch of the key set per this interval per room (§5.1),
 * whatever the tokens: a token with an unknown `kid` (key rotation) fetches
 * it again only once this long has passed since the last attempt, and a
 * key server that failed is not asked again sooner either.
 */
export const JWKS_COOLDOWN_MS = 5000;

const encoder = new TextEncoder();

/** The auth settings from the Worker's vars and secrets; a broken one fails loudly, like a broken limit. */
export function readAuth(env: object): AuthConfig {
  const secret = text(env, "AUTH_SECRET");
  const jwks = text(env, "AUTH_JWKS_URL");
  const issuer = text(env, "AUTH_ISSUER");
  const config: AuthConfig = { audience: text(env, "AUTH_AUDIENCE") ?? "edge-chat" };
  if (secret !== undefined) {
    const bytes = encoder.encode(secret);
    if (bytes.byteLength < MIN_AUTH_SECRET_BYTES) {
      throw new ConfigError("AUTH_SECRET", "(hidden)", `a secret of at least ${MIN_AUTH_SECRET_BYTES} bytes`);
    }
    config.secret = bytes;
  }
  if (jwks !== undefined) {
    let url: URL;
    try {
      url = new URL(jwks);
    } catch {
      throw new ConfigError("AUTH_JWKS_URL", jwks, "an https:// URL of a JSON Web Key Set");
    }
    config.jwksUrl = url;
  }
  if (issuer !== undefined) config.issuer = issuer;
  return config;
}

function text(env: object, name: string): string | undefined {
  const raw: unknown = Reflect.get(env, name);
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") throw new ConfigError(name, raw, "a string");
  return raw;
}

const ClaimsSchema = v.object({
  // §5.1: 1–128 characters, no control characters (NUL and newline would
  // land in logs and frames) and no direction controls (BIDI_CONTROL).
  sub: v.pipe(
    v.string(),
    v.check((s) => {
      const n = codePointLength(s);
      return n >= 1 && n <= 128 && !/\p{Cc}/u.test(s) && !BIDI_CONTROL.test(s);
    }),
  ),
  name: v.optional(v.string()),
  role: v.optional(v.picklist(ROLES)),
  rooms: v.optional(v.array(v.string())),
});

/**
 * The key set at AUTH_JWKS_URL, one copy per URL per isolate, and the only
 * code that fetches it (§5.1). jose's remote key set was not enough: on
 * Workers it starts a fetch per caller (a promise may not cross request
 * contexts), and a flood of made-up `kid`s fetched the set 40 times in
 * 10 s. Here the rule holds however tokens arrive: at most one fetch
 * attempt per JWKS_COOLDOWN_MS per isolate (so per room too), successful or
 * not. Keys are kept JWKS_MAX_AGE_MS, then fetched again on the next
 * RS256/ES256 token; a failed refetch keeps the old keys. jose still does
 * every check (createLocalJWKSet, jwtVerify).
 *
 * Waiting for a fetch under way is allowed only to callers of the context
 * that started it (`context`: a room passes one object for all its events,
 * which share the object's context), so a storm of joins into one room
 * waits for one fetch; anyone else uses the keys there are.
 */
export class KeyCache {
  readonly #url: URL;
  #keys: ReturnType<typeof createLocalJWKSet> | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #triedAt = Number.NEGATIVE_INFINITY;
  #loading: { promise: Promise<void>; context: object | undefined } | undefined;
  /** Fetch attempts so far. */
  fetches = 0;

  constructor(url: URL) {
    this.#url = url;
  }

  /** Verifies a token against the set; an unknown `kid` fetches the set again if the cooldown allows. */
  async verify(token: string, options: JWTVerifyOptions, context?: object): Promise<unknown> {
    if (!this.#keys || Date.now() - this.#loadedAt > JWKS_MAX_AGE_MS) await this.#refresh(context);
    const first = this.#keys;
    if (!first) throw new KeyServerDown();
    try {
      return (await jwtVerify(token, first, options)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      await this.#refresh(context);
      const again = this.#keys;
      if (again === first || !again) throw err;
      return (await jwtVerify(token, again, options)).payload;
    }
  }

  #refresh(context: object | undefined): Promise<void> {
    if (this.#loading) {
      const mine = context !== undefined && this.#loading.context === context;
      return mine ? this.#loading.promise : Promise.resolve();
    }
    if (Date.now() - this.#triedAt < JWKS_COOLDOWN_MS) return Promise.resolve();
    this.#triedAt = Date.now();
    this.fetches++;
    const promise = this.#fetch().finally(() => {
      this.#loading = undefined;
    });
    this.#loading = { promise, context };
    return promise;
  }

  async #fetch(): Promise<void> {
    try {
      const response = await fetch(this.#url, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`status ${response.status}`);
      }
      const json: unknown = await response.json();
      if (!isKeySetJson(json)) throw new Error("not a JSON Web Key Set");
      this.#keys = createLocalJWKSet(json);
      this.#loadedAt = Date.now();
    } catch (err) {
      // The old keys (if any) stay; the next attempt waits for the cooldown.
      console.warn(`identity: key set fetch failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** How long a fetched key set is used before it is fetched again (jose's remote set's default). */
export const JWKS_MAX_AGE_MS = 600_000;

class KeyServerDown extends Error {}

function isKeySetJson(json: unknown): json is JSONWebKeySet {
  return typeof json === "object" && json !== null && "keys" in json && Array.isArray(json.keys);
}

const keyCaches = new Map<string, KeyCache>();

/** The isolate's key set for a URL. */
export function keyCache(url: URL): KeyCache {
  let cache = keyCaches.get(url.href);
  if (!cache) {
    cache = new KeyCache(url);
    keyCaches.set(url.href, cache);
  }
  return cache;
}

/**
 * Checks a token; never throws: every way a token can fail is an answer.
 * `context`: the caller's own object (a room's), so its callers may wait for
 * a key-set fetch it started (KeyCache).
 */
export async function verifyIdentity(token: string, config: AuthConfig, context?: object): Promise<Verified> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return invalid("The identity token is not a JWT.");
  }
  const options: JWTVerifyOptions = {
    audience: config.audience,
    clockTolerance: CLOCK_SKEW_S,
    requiredClaims: ["exp", "sub", "aud"],
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
  };
  let payload: unknown;
  try {
    if (header.alg === "HS256") {
      if (!config.secret) return invalid("HS256 identity tokens are not accepted here.");
      ({ payload } = await jwtVerify(token, config.secret, { ...options, algorithms: ["HS256"] }));
    } else if (header.alg === "RS256" || header.alg === "ES256") {
      if (!config.jwksUrl) return invalid(`${header.alg} identity tokens are not accepted here.`);
      payload = await keyCache(config.jwksUrl).verify(token, { ...options, algorithms: ["RS256", "ES256"] }, context);
    } else {
      return invalid("The identity token's algorithm is not accepted.");
    }
  } catch (err) {
    if (err instanceof KeyServerDown) return invalid("The key server could not be reached; try again shortly.");
    return invalid(explain(err));
  }
  const claims = v.safeParse(ClaimsSchema, payload);
  if (!claims.success) return invalid("The identity token's claims are malformed.");
  const { sub, name, role, rooms } = claims.output;
  const identity: Identity = { user: sub, name: name ?? sub, role: role ?? "member" };
  if (rooms !== undefined) identity.rooms = rooms;
  return { ok: true, identity };
}

function invalid(message: string): Verified {
  return { ok: false, message };
}

/** What a person is told; a token's contents are never echoed. */
function explain(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "The identity token has expired.";
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === "nbf"
      ? "The identity token is not valid yet."
      : `The identity token's ${err.claim} claim is not accepted.`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "The identity token's signature is wrong.";
  if (err instanceof errors.JWKSNoMatchingKey) return "The identity token was signed by an unknown key.";
  return "The identity token is not valid.";
}
