/**
 * Identity tokens for the tests (protocol §5.1), minted with jose the way a
 * host site would: HS256 with the test secret, RS256/ES256 with key pairs
 * whose public halves a test serves as a key set. Also the bad ones a
 * forger would try, built by hand where jose refuses to (alg none, HS256
 * keyed with an RSA public key).
 */
import { createHmac } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";

/** AUTH_SECRET of the test servers. */
export const TEST_AUTH_SECRET = "test-auth-secret-0123456789abcdef-0123456789";
export const AUDIENCE = "edge-chat";

export interface Claims {
  sub?: string;
  name?: string;
  role?: string;
  rooms?: string[];
  aud?: string;
  iss?: string;
  /** Seconds from now; default one hour. */
  expiresIn?: number;
  /** Seconds from now. */
  notBefore?: number;
  /** Leave `exp` out. */
  noExp?: boolean;
}

function payload(claims: Claims): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const { expiresIn = 3600, notBefore, noExp, aud = AUDIENCE, ...rest } = claims;
  const out: Record<string, unknown> = { ...rest, aud, iat: now };
  if (!noExp) out.exp = now + expiresIn;
  if (notBefore !== undefined) out.nbf = now + notBefore;
  return out;
}

/** An HS256 token signed with `secret` (the test servers' AUTH_SECRET by default). */
export function hs256(claims: Claims, secret: string = TEST_AUTH_SECRET): Promise<string> {
  return new SignJWT(payload(claims)).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

/** A key pair whose public half goes into a served key set under `kid`. */
export interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  sign(claims: Claims): Promise<string>;
  jwk: JWK;
  /** The public key as PEM: what a confusion attack uses as an HMAC secret. */
  publicPem: string;
}

export async function signingKey(kid: string, alg: "RS256" | "ES256" = "RS256"): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return {
    kid,
    alg,
    jwk,
    publicPem: await exportSPKI(publicKey),
    sign: (claims) => new SignJWT(payload(claims)).setProtectedHeader({ alg, kid }).sign(privateKey),
  };
}

export function keySet(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** `alg: none`: a header, a payload, and no signature. */
export function unsigned(claims: Claims): string {
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(payload(claims))}.`;
}

/** HS256 with an arbitrary key as the HMAC secret (the RS/HS confusion attack uses the RSA public key). */
export function hs256WithKey(claims: Claims, key: string, kid?: string): string {
  const head = `${b64({ alg: "HS256", typ: "JWT", ...(kid ? { kid } : {}) })}.${b64(payload(claims))}`;
  return `${head}.${createHmac("sha256", key).update(head).digest("base64url")}`;
}
