/**
 * The HTTP API under /api (protocol §4): the room directory, reads of one
 * room, and publishing into a room.
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
import { openDirectory } from "../directory/directory";
import { readLimits } from "../shared/limits";
import { type PublishBody, PublishBodySchema } from "../shared/protocol";
import { addressKey } from "./address";
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
    allowHeaders: ["Authorization", "Content-Type"],
    maxAge: 86_400,
  }),
);

api.get("/rooms", async (c) => c.json({ rooms: await openDirectory(c.env.DIRECTORY).list() }));
api.all("/rooms", methodNotAllowed("GET"));

api.get("/rooms/:room", async (c) => {
  const room = roomParam(c);
  const snapshot = await roomStub(c.env, room).snapshot();
  return c.json({ room, ...snapshot });
});
api.all("/rooms/:room", methodNotAllowed("GET"));

api.get("/rooms/:room/messages", async (c) => {
  const room = roomParam(c);
  const cap = readLimits(c.env).historyLimit;
  const since = queryInt(c, "since", 0) ?? 0;
  const limit = Math.min(queryInt(c, "limit", 1) ?? cap, cap);
  const frames = await roomStub(c.env, room).messages(since, limit);
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
    const expected = c.env.API_TOKEN;
    if (!expected) throw new ApiError(404, "not_found", "Publishing is not enabled on this deployment.");
    if (expected.length < MIN_API_TOKEN_CHARS) {
      // The operator's mistake, said in the log; the caller sees publishing off.
      console.error(`worker: API_TOKEN is shorter than ${MIN_API_TOKEN_CHARS} characters; publishing is off.`);
      throw new ApiError(404, "not_found", "Publishing is not enabled on this deployment.");
    }
    const failures = readLimits(c.env).apiFailuresPerMinute;
    const guard = c.env.API_GUARD.getByName(addressKey(c.req.header("CF-Connecting-IP")));
    const wait = await guard.retryAfter(failures);
    if (wait > 0) {
      throw new ApiError(429, "rate_limited", "Too many wrong API tokens from your address; try again later.", {
        "Retry-After": String(Math.ceil(wait / 1000)),
      });
    }
    const given = /^Bearer +(\S+) *$/i.exec(c.req.header("Authorization") ?? "")?.[1];
    if (given === undefined || !(await secretsEqual(given, expected))) {
      await guard.failed(failures);
      throw new ApiError(401, "unauthorized", "A valid Authorization: Bearer <API_TOKEN> header is required.", {
        "WWW-Authenticate": 'Bearer realm="edge-chat"',
      });
    }
    await next();
  };
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
