/**
 * edge-chat Worker: the stateless front door.
 *
 * Bindings (wrangler.toml; types generated into worker-configuration.d.ts):
 *   ROOMS    Durable Object namespace of ChatRoom (src/room.ts), one object
 *            per room name via idFromName.
 *   ASSETS   the browser client in public/, served by Workers static assets.
 *   HISTORY_LIMIT … RATE_PER_SEC   protocol limits (src/config.ts).
 *   ALLOWED_ORIGINS                extra origins that may open sockets.
 *
 * Routes: GET /health, GET /chat/:room (WebSocket upgrade). Everything else
 * is a static file. The Worker validates and forwards; it holds no state.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { readAllowedOrigins } from "./config";

export { ChatRoom } from "./room";

/** Protocol §1: case-sensitive, 1 to 64 characters, not starting with punctuation. */
const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An HTTP error that renders as the protocol's `{"error","message"}` body. */
class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(status, { message });
  }
}

const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true }));

app.get("/chat/:room", (c) => {
  const room = c.req.param("room");
  if (!ROOM_NAME.test(room)) throw invalidRoom();
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "websocket_required", "Connect with a WebSocket upgrade (Upgrade: websocket).");
  }
  // Browsers attach Origin to every WebSocket handshake and let any page
  // open a socket to any host; refusing foreign origins stops a malicious
  // page from chatting as the visitor (cross-site WebSocket hijacking).
  // Non-browser clients send no Origin and are not at risk.
  const origin = c.req.header("Origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin && !readAllowedOrigins(c.env).has(origin)) {
    throw new ApiError(403, "forbidden_origin", `Origin ${origin} may not open chat sockets here.`);
  }
  // The raw request goes to the object, which accepts the socket with the
  // Hibernation API. (Hono's upgradeWebSocket would accept it here, in the
  // Worker, where it can never hibernate.)
  const stub = c.env.ROOMS.get(c.env.ROOMS.idFromName(room));
  return stub.fetch(c.req.raw);
});

app.all("/chat/:room", () => {
  throw new ApiError(405, "method_not_allowed", "Chat sockets are opened with GET.");
});

// /chat/a/b, /chat/ and friends: a room name was meant, and it is not valid.
app.all("/chat/*", () => {
  throw invalidRoom();
});

app.all("/api/*", () => {
  throw new ApiError(404, "not_found", "No such API route.");
});

// Paths the assets layer did not match reach the Worker only through
// run_worker_first; anything else is asked of the assets binding (its 404).
app.notFound((c) => c.env.ASSETS.fetch(c.req.raw));

app.onError((err, c) => {
  if (err instanceof ApiError) return c.json({ error: err.code, message: err.message }, err.status);
  console.error("worker: unhandled error:", err instanceof Error ? err.message : String(err));
  return c.json({ error: "internal_error", message: "Something went wrong." }, 500);
});

function invalidRoom(): ApiError {
  return new ApiError(
    400,
    "invalid_room",
    "Room names are 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit.",
  );
}

export default app;
