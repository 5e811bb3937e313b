/**
 * Signing in (protocol §5): where the page gets an identity token. The host
 * site vouches for its visitor; edge-chat only checks the signature. Like
 * Liveblocks' and Pusher's `authEndpoint`, the page asks a same-origin
 * endpoint of the host site for a fresh token before every (re)connect, so
 * a short-lived token never goes stale in a long connection. For trying it
 * out, a token can also be pasted (`npm run token` prints one).
 */
import { type ClientConfig, ClientConfigSchema, parseBody } from "../shared/http";

/** Gives a fresh identity token, or undefined for a visitor who is not signed in (a guest). */
export type TokenSource = () => Promise<string | undefined>;

const OPEN: ClientConfig = { access: "open", authEndpoint: null, uploads: null };

/** GET /api/config of the chat server; a server that does not answer it is an open one without sign-in. */
export async function loadConfig(server: string): Promise<ClientConfig> {
  try {
    const res = await fetch(new URL("/api/config", server));
    if (!res.ok) return OPEN;
    return parseBody(ClientConfigSchema, await res.json()) ?? OPEN;
  } catch {
    return OPEN;
  }
}

/**
 * Tokens from the host site's endpoint (a URL on the host site, which is
 * not the chat's origin when the chat is embedded): GET with the visitor's
 * cookies,
 * answering `{"token": "..."}`, or `{"token": null}` (or 401/403) for a
 * visitor who is not signed in, a guest. Any other failure throws, and the
 * connection retries later rather than joining as someone it is not.
 */
export function endpointTokens(endpoint: string): TokenSource {
  return async () => {
    const res = await fetch(endpoint, { credentials: "include", headers: { Accept: "application/json" } });
    if (res.status === 401 || res.status === 403 || res.status === 404) return undefined;
    if (!res.ok) throw new Error(`the sign-in endpoint answered ${res.status}`);
    const body: unknown = await res.json();
    if (typeof body === "object" && body !== null && "token" in body) {
      if (typeof body.token === "string") return body.token;
      if (body.token === null) return undefined;
    }
    throw new Error("the sign-in endpoint did not answer {token}");
  };
}

/** A token pasted into the page: the same one on every reconnect (until it expires). */
export function pastedToken(token: string): TokenSource {
  return () => Promise.resolve(token);
}

/** The claims a person may want to see before joining (never trusted: the server checks the token). */
export function peek(token: string): { name?: string; sub?: string; exp?: number } | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof json !== "object" || json === null) return undefined;
    const read = (key: string) => (key in json ? Reflect.get(json, key) : undefined);
    const name = read("name");
    const sub = read("sub");
    const exp = read("exp");
    return {
      ...(typeof name === "string" ? { name } : {}),
      ...(typeof sub === "string" ? { sub } : {}),
      ...(typeof exp === "number" ? { exp } : {}),
    };
  } catch {
    return undefined;
  }
}
