/**
 * edge-chat Worker: the stateless front door.
 *
 * Bindings (wrangler.toml; types generated into worker-configuration.d.ts):
 *   ROOMS    Durable Object namespace of ChatRoom (src/room/chat-room.ts), one object
 *            per room name via idFromName.
 *   ASSETS   the browser client in public/, served by Workers static assets.
 *   DIRECTORY  the room directory (src/directory/directory.ts, built on itty-durable).
 *   API_GUARD  throttles wrong API tokens per address (src/worker/api-guard.ts).
 *   API_TOKEN  secret (32+ characters); enables POST /api/rooms/:room/messages.
 *   HISTORY_LIMIT … API_FAILURES_PER_MINUTE   limits (src/shared/limits.ts).
 *   ALLOWED_ORIGINS                extra origins that may open sockets.
 *   FILES      the R2 bucket of uploaded files (§11); FILES_SECRET signs their URLs.
 *   USERS      one object per verified user: their rooms and counts (§10.3, src/user/user-rooms.ts).
 *   ME         one object per client address holding its /me sockets (src/user/me-gate.ts).
 *
 * Routes: GET /health, GET /chat/:room and GET /me (WebSocket upgrades), /api/* (src/worker/api.ts),
 * GET /files/:room/:id (signed file URLs, src/worker/files.ts).
 * Everything else is a static file. The Worker validates and forwards; it
 * holds no state.
 */
import { type Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { readAllowedOrigins } from "../shared/limits";
import { requestAddress } from "./address";
import { api } from "./api";
import { serve } from "./files";
import { ApiError, invalidRoom, methodNotAllowed, renderError } from "./http-error";
import { roomParam, roomStub } from "./rooms";

export { RoomDirectory } from "../directory/directory";
export { ChatRoom } from "../room/chat-room";
export { MeGate } from "../user/me-gate";
export { UserRooms } from "../user/user-rooms";
export { ApiGuard } from "./api-guard";

const app = new Hono<{ Bindings: Env }>();

// JSON answers get the usual hardening headers (nosniff, no framing, …).
// Static files get theirs from public/_headers; the 101 answer of a socket
// is left alone, as its headers belong to the runtime.
app.use("/api/*", secureHeaders());
app.use("/health", secureHeaders());

app.get("/health", (c) => c.json({ ok: true }));
app.all("/health", methodNotAllowed("GET"));
app.get("/chat/:room", (c) => {
  const room = roomParam(c);
  // The request goes to the object, which accepts the socket with the
  // Hibernation API. (Hono's upgradeWebSocket would accept it here, in the
  // Worker, where it can never hibernate.)
  return roomStub(c.env, room).fetch(upgradeRequest(c));
});

// §10.3: a signed-in user's live channel, held by the object of the
// client's address until its first frame says who it is (src/user/me-gate.ts).
app.get("/me", (c) => c.env.ME.getByName(requestAddress(c.req.raw)).fetch(upgradeRequest(c)));
app.all("/me", methodNotAllowed("GET"));

/**
 * A socket's upgrade as an object receives it: checked for the upgrade
 * and the origin (§1), then forwarded as it came. The object reads the
 * client's address from it (address.ts). A copy of the request, to carry
 * the address in a header of our own, was about a twentieth of the
 * samples in a V8 profile of the v3 join storm (docs/benchmarks.md).
 */
function upgradeRequest(c: Context<{ Bindings: Env }>): Request {
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
  return c.req.raw;
}

app.all("/chat/:room", methodNotAllowed("GET"));

// /chat/a/b, /chat/ and friends: a room name was meant, and it is not valid.
app.all("/chat/*", () => {
  throw invalidRoom();
});

app.route("/api", api);

// §11.3: a file, for whoever holds its signed URL.
app.get("/files/:room/:id", serve);
app.all("/files/*", methodNotAllowed("GET"));

// Paths the assets layer did not match reach the Worker only through
// run_worker_first; anything else is asked of the assets binding (its 404).
app.notFound((c) => c.env.ASSETS.fetch(c.req.raw));

app.onError(renderError);

export default app;
