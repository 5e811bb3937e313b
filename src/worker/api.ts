/**
 * The HTTP API under /api (protocol §4): the room directory, reads of one
 * room, and publishing into a room; and the browser client's settings.
 *
 * Reads and publishes are RPC calls on the room's object (`stub.snapshot()`
 * and friends), so they are ordered with the room's WebSocket frames and no
 * internal HTTP format exists to keep in step. Message frames come back
 * already serialized and are spliced into the response, not re-encoded.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import * as v from "valibot";
import { admits, isPrivateRoom } from "../auth/access";
import { readAuth, verifyIdentity } from "../auth/identity";
import { openDirectory } from "../directory/directory";
import { filesSecret } from "../files/signing";
import type { ReadResult } from "../room/features/history";
import { FILE_TYPES } from "../shared/files";
import { type ClientConfig, type PublishBody, PublishBodySchema } from "../shared/http";
import { readLimits } from "../shared/limits";
import { isModerationFrame, MODERATION_ACTIONS, type ModerationFrame, parseClientFrame } from "../shared/protocol";
import { LISTS_PER_MINUTE } from "../user/user-rooms";
import { requestAddress } from "./address";
import { upload } from "./files";
import { ApiError, methodNotAllowed } from "./http-error";
import { roomParam, roomStub } from "./rooms";
import { secretsEqual } from "./secrets";

type App = { Bindings: Env };

const JSON_TYPE = { "Content-Type": "application/json; charset=UTF-8" };

export const api = new Hono<App>();

// Any site may read: the API serves nothing a socket could not see, and
// sends no cookies. Writing needs the bearer token whatever the origin.
api.use(
  "*",
  cors({
    origin: "*",
    allowMethods: ["GET", "POST"],
    allowHeaders: ["Authorization", "Content-Type", "X-File-Name"],
    maxAge: 86_400,
  }),
);

// Private rooms never report to the directory; the filter also hides any
// listed before they were private.
api.get("/rooms", async (c) => {
  const rooms = await openDirectory(c.env.DIRECTORY).list();
  return c.json({ rooms: rooms.filter((r) => !isPrivateRoom(r.room)) });
});
api.all("/rooms", methodNotAllowed("GET"));

/**
 * What the browser client needs to know before it connects: whether guests
 * may join, and where the host site hands out identity tokens (AUTH_ENDPOINT,
 * a path on this origin; the client fetches it with the visitor's cookies).
 */
api.get("/config", (c) => {
  const { access } = readLimits(c.env);
  const endpoint = c.env.AUTH_ENDPOINT;
  const config: ClientConfig = {
    access,
    authEndpoint: endpoint ? endpoint : null,
    uploads:
      filesSecret(c.env) === undefined ? null : { maxBytes: readLimits(c.env).maxUploadBytes, types: [...FILE_TYPES] },
  };
  return c.json(config);
});
api.all("/config", methodNotAllowed("GET"));

api.get("/rooms/:room", privateRoomAccess(), async (c) => {
  const room = roomParam(c);
  const snapshot = await roomStub(c.env, room).snapshot();
  return c.json({ room, ...snapshot });
});
api.all("/rooms/:room", methodNotAllowed("GET"));

api.get("/rooms/:room/messages", privateRoomAccess(), async (c) => {
  const room = roomParam(c);
  const before = queryInt(c, "before", 1);
  const since = queryInt(c, "since", 0);
  if (before !== undefined && since !== undefined) {
    throw new ApiError(400, "bad_request", "Give `before` or `since`, not both.");
  }
  if (before !== undefined)
    return readAnswer(c, await roomStub(c.env, room).messagesBefore(before, queryInt(c, "limit", 1)));
  const cap = readLimits(c.env).historyLimit;
  const limit = Math.min(queryInt(c, "limit", 1) ?? cap, cap);
  const frames = await roomStub(c.env, room).messages(since ?? 0, limit);
  return c.body(`{"room":${JSON.stringify(room)},"messages":[${frames.join(",")}]}`, 200, JSON_TYPE);
});

api.post("/rooms/:room/messages", requireApiToken(), limitBody(), async (c) => {
  const room = roomParam(c);
  const body = parsePublishBody(await c.req.text());
  const result = await roomStub(c.env, room).publish(body.name, body.text);
  if (!result.ok) throw new ApiError(result.code === "name_taken" ? 409 : 400, result.code, result.message);
  return c.body(result.frame, 201, JSON_TYPE);
});
api.all("/rooms/:room/messages", methodNotAllowed("GET, POST"));

// §8.4: search, limited per address over all rooms (a search costs the room
// far more than a page), then guarded like every read.
api.get("/rooms/:room/search", searchBudget(), privateRoomAccess(), async (c) => {
  const room = roomParam(c);
  const q = c.req.query("q");
  if (q === undefined) throw new ApiError(400, "bad_query", "Give the words to search for as `q`.");
  const before = queryInt(c, "before", 1);
  return readAnswer(c, await roomStub(c.env, room).search(q, before, queryInt(c, "limit", 1)));
});
api.all("/rooms/:room/search", methodNotAllowed("GET"));

// §11.1: uploads, authorised by a joined socket's welcome token (src/worker/files.ts).
api.post("/rooms/:room/files", upload);
api.all("/rooms/:room/files", methodNotAllowed("POST"));

/**
 * §10.3: the signed-in user's rooms with their counts, from the user's own
 * object. A missing or bad identity token is 401 `auth_invalid`, and
 * spends the address's wrong-token budget like a wrong API token.
 */
api.get("/me/rooms", async (c) => {
  const guard = await bearerGuard(c);
  const given = bearer(c);
  const verified = given === undefined ? undefined : await verifyIdentity(given, readAuth(c.env));
  if (!verified?.ok) {
    if (given !== undefined) await guard.failed();
    throw new ApiError(401, "auth_invalid", verified?.message ?? "Send Authorization: Bearer <identity token>.", {
      "WWW-Authenticate": 'Bearer realm="edge-chat"',
    });
  }
  const { user, rooms: claim } = verified.identity;
  const rooms = await c.env.USERS.getByName(user).list(claim === undefined ? undefined : [...claim]);
  if (rooms === null) throw tooMany("Too many room lists; try again in a minute.", 60_000 / LISTS_PER_MINUTE);
  return c.json({ user, rooms });
});
api.all("/me/rooms", methodNotAllowed("GET"));

// Moderation (§6.4): the API token acts as an admin named "system".
api.post("/rooms/:room/moderation", requireApiToken(), limitBody(), async (c) => {
  const room = roomParam(c);
  const frame = parseModerationBody(await c.req.text(), readLimits(c.env).maxFrameBytes);
  const outcome = await roomStub(c.env, room).moderate(frame);
  if (!outcome.ok) throw new ApiError(outcome.code === "no_such_user" ? 404 : 400, outcome.code, outcome.message);
  return c.json({ ok: true });
});
api.get("/rooms/:room/moderation", requireApiToken(), async (c) => {
  const room = roomParam(c);
  return c.json(await roomStub(c.env, room).moderation());
});
api.all("/rooms/:room/moderation", methodNotAllowed("GET, POST"));

api.all("*", () => {
  throw new ApiError(404, "not_found", "No such API route.");
});

// ---------------------------------------------------------------------------

/** An optional non-negative integer query value; absent gives undefined, anything else malformed is 400. */
function queryInt(c: Context<App>, name: string, min: number): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min)) throw new ApiError(400, "bad_query", `${name} must be an integer of at least ${min}.`);
  return value;
}

function readAnswer(c: Context<App>, result: ReadResult): Response {
  if (!result.ok) throw new ApiError(400, result.code, result.message);
  return c.body(result.body, 200, JSON_TYPE);
}

/** SEARCHES_PER_MINUTE per address, all rooms together (§8.4): kept by the address's guard object. */
function searchBudget(): MiddlewareHandler<App> {
  return async (c, next) => {
    const wait = await addressGuard(c).search(readLimits(c.env).searchesPerMinute);
    if (wait > 0) throw tooMany("Too many searches from your address; try again later.", wait);
    await next();
  };
}

/** Shorter API tokens are refused: they are guessable however slowly guesses are let through. */
export const MIN_API_TOKEN_CHARS = 32;

/**
 * Publishing is off (404, as if the route did not exist) until an API_TOKEN
 * secret of at least MIN_API_TOKEN_CHARS is set, and every request must
 * carry it. Any malformed or missing Authorization header is a plain 401,
 * the contract's answer. An address that presented API_FAILURES_PER_MINUTE
 * wrong tokens in the last minute gets 429 before its token is compared.
 */
function requireApiToken(): MiddlewareHandler<App> {
  return async (c, next) => {
    const expected = apiToken(c.env);
    if (expected === undefined) throw new ApiError(404, "not_found", "Publishing is not enabled on this deployment.");
    const guard = await bearerGuard(c);
    const given = bearer(c);
    if (given === undefined || !(await secretsEqual(given, expected))) {
      await guard.failed();
      throw new ApiError(401, "unauthorized", "A valid Authorization: Bearer <API_TOKEN> header is required.", {
        "WWW-Authenticate": 'Bearer realm="edge-chat"',
      });
    }
    await next();
  };
}

/**
 * §5.2: a private room's read routes answer 404, as if it did not exist,
 * unless the request carries the API token or an identity token that covers
 * the room. A wrong bearer counts against the address like a wrong API
 * token, so reads cannot be used to guess either.
 */
function privateRoomAccess(): MiddlewareHandler<App> {
  return async (c, next) => {
    const room = roomParam(c);
    if (isPrivateRoom(room) && !(await mayReadPrivate(c, room))) {
      throw new ApiError(404, "not_found", "No such room.");
    }
    await next();
  };
}

async function mayReadPrivate(c: Context<App>, room: string): Promise<boolean> {
  const given = bearer(c);
  if (given === undefined) return false;
  const guard = await bearerGuard(c);
  const expected = apiToken(c.env);
  if (expected !== undefined && (await secretsEqual(given, expected))) return true;
  const verified = await verifyIdentity(given, readAuth(c.env));
  // A valid identity token that does not cover the room is no guess: it
  // gets the 404 without spending the address's guard, so a signed-in
  // user's reads cannot lock out the admin behind the same address.
  if (verified.ok) return admits(verified.identity.rooms, room);
  await guard.failed();
  return false;
}

/** The API_TOKEN secret when it is usable; undefined turns the routes that need it off. */
function apiToken(env: Env): string | undefined {
  const token = env.API_TOKEN;
  if (!token) return undefined;
  if (token.length < MIN_API_TOKEN_CHARS) {
    // The operator's mistake, said in the log; the caller sees the feature off.
    console.error(`worker: API_TOKEN is shorter than ${MIN_API_TOKEN_CHARS} characters; it is not accepted.`);
    return undefined;
  }
  return token;
}

function bearer(c: Context<App>): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(c.req.header("Authorization") ?? "")?.[1];
}

/**
 * The address's guard against guessing: an address that presented
 * API_FAILURES_PER_MINUTE wrong tokens in the last minute gets 429 before
 * its token is compared, so a right guess cannot be told from a wrong one.
 */
async function bearerGuard(c: Context<App>): Promise<{ failed(): Promise<void> }> {
  const failures = readLimits(c.env).apiFailuresPerMinute;
  const guard = addressGuard(c);
  const wait = await guard.retryAfter(failures);
  if (wait > 0) throw tooMany("Too many wrong tokens from your address; try again later.", wait);
  return { failed: () => guard.failed(failures) };
}

/** The caller's address's guard object (src/worker/api-guard.ts). */
function addressGuard(c: Context<App>) {
  return c.env.API_GUARD.getByName(requestAddress(c.req.raw));
}

/** 429 with `Retry-After` in whole seconds. */
function tooMany(message: string, waitMs: number): ApiError {
  return new ApiError(429, "rate_limited", message, { "Retry-After": String(Math.ceil(waitMs / 1000)) });
}

/** Bodies are held to the same MAX_FRAME_BYTES as socket frames. */
function limitBody(): MiddlewareHandler<App> {
  return (c, next) =>
    bodyLimit({
      maxSize: readLimits(c.env).maxFrameBytes,
      onError: () => {
        throw new ApiError(413, "too_large", "The body is larger than the server accepts.");
      },
    })(c, next);
}

/** `{"action", …fields of §6.2}`, checked by the same schema as the frame of that type. */
function parseModerationBody(text: string, maxFrameBytes: number): ModerationFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_json", "The body is not valid JSON.");
  }
  const wanted = `The body needs an "action": one of ${MODERATION_ACTIONS.join(", ")}.`;
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ApiError(400, "bad_message", wanted);
  const action = "action" in json ? json.action : undefined;
  const known = MODERATION_ACTIONS.find((a) => a === action);
  if (known === undefined) throw new ApiError(400, "bad_message", wanted);
  const parsed = parseClientFrame(JSON.stringify({ ...json, type: known }), maxFrameBytes);
  if (!parsed.ok) throw new ApiError(400, parsed.code, parsed.message);
  if (!isModerationFrame(parsed.frame)) throw new ApiError(400, "bad_message", wanted);
  return parsed.frame;
}

function parsePublishBody(text: string): PublishBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_json", "The body is not valid JSON.");
  }
  const parsed = v.safeParse(PublishBodySchema, json);
  if (!parsed.success) throw new ApiError(400, "bad_message", 'The body must be {"name": string, "text": string}.');
  return parsed.output;
}
