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
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTVerifyOptions,
  jwtVerify,
  type RemoteJWKSet,
} from "jose";
import * as v from "valibot";
import { ConfigError } from "../shared/limits";
import { ROLES, type Role } from "../shared/protocol";
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
 * After fetching the key set, a token with an unknown `kid` fetches it again
 * (key rotation) only once this long has passed, and a key server that
 * failed is not asked again sooner: a flood of tokens with made-up key ids
 * costs the key server one request per this interval per isolate.
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
  sub: v.pipe(
    v.string(),
    v.check((s) => {
      const n = codePointLength(s);
      return n >= 1 && n <= 128;
    }),
  ),
  name: v.optional(v.string()),
  role: v.optional(v.picklist(ROLES)),
  rooms: v.optional(v.array(v.string())),
});

/**
 * Where one caller waits for a key-set fetch already under way. jose starts
 * a fetch per caller on Workers (a promise may not cross request contexts),
 * so a storm of RS256 joins on a cold isolate fetched the set once per join
 * (65 fetches for 75 joins, measured). A room owns one gate: its events
 * share one context, so its joins wait for one fetch.
 */
export interface KeyGate {
  loading?: Promise<void> | undefined;
}

/** Checks a token; never throws: every way a token can fail is an answer. */
export async function verifyIdentity(token: string, config: AuthConfig, gate?: KeyGate): Promise<Verified> {
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
      const keys = keySet(config.jwksUrl);
      if (!keys) return invalid("The key server could not be reached; try again shortly.");
      if (gate && !keys.get.fresh) {
        gate.loading ??= keys.get.reload().finally(() => {
          gate.loading = undefined;
        });
        await gate.loading;
      }
      ({ payload } = await jwtVerify(token, keys.get, { ...options, algorithms: ["RS256", "ES256"] }));
    } else {
      return invalid("The identity token's algorithm is not accepted.");
    }
  } catch (err) {
    if (config.jwksUrl && header.alg !== "HS256" && isKeyServerFailure(err)) {
      keyServerFailed(config.jwksUrl);
      return invalid("The key server could not be reached; try again shortly.");
    }
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

/**
 * A fetch of the key set that failed: a timeout, a network error, a status
 * other than 200 or a body that is no key set (jose reports the last two as
 * its generic error). Anything else is about the token.
 */
function isKeyServerFailure(err: unknown): boolean {
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  return !(err instanceof errors.JOSEError) || err.code === "ERR_JOSE_GENERIC";
}

// ---------------------------------------------------------------------------
// The key set, one per URL per isolate: jose caches the keys (10 minutes),
// and fetches them again for an unknown `kid` once the cooldown has passed.
// A failed fetch is remembered for the same cooldown, so an unreachable key
// server is not asked again by every join.
// ---------------------------------------------------------------------------

const keySets = new Map<string, { get: RemoteJWKSet; failedAt?: number }>();

function keySet(url: URL): { get: RemoteJWKSet } | undefined {
  let entry = keySets.get(url.href);
  if (entry?.failedAt !== undefined && Date.now() - entry.failedAt < JWKS_COOLDOWN_MS) return undefined;
  if (!entry || entry.failedAt !== undefined) {
    entry = {
      get: createRemoteJWKSet(url, { timeoutDuration: JWKS_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS }),
    };
    keySets.set(url.href, entry);
  }
  return entry;
}

function keyServerFailed(url: URL): void {
  const entry = keySets.get(url.href);
  if (entry) entry.failedAt = Date.now();
}
