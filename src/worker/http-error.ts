/**
 * HTTP errors in the protocol's shape: `{"error": code, "message": text}`
 * (protocol §4). Routes throw them; the Worker's onError renders them.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { httpErrorBody } from "../shared/http";
import { ROOM_NAME_RULE } from "../shared/protocol";

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
  }
}

/** Request bodies up to this size are read to the end before an error answer; see below. */
const DRAIN_LIMIT = 64 * 1024;

export async function renderError(err: Error, c: Context): Promise<Response> {
  await drainBody(c.req.raw);
  if (err instanceof ApiError) return c.json(httpErrorBody(err.code, err.message), err.status, err.headers);
  // Never a stack or an internal message to the caller.
  console.error("worker: unhandled error:", `${err.name}: ${err.message}`);
  return c.json(httpErrorBody("internal_error", "Something went wrong."), 500);
}

/**
 * An error answered before the request body was read (401, 404, 405 on a
 * POST) leaves unread bytes on the connection, and the runtime then resets
 * it: a client that reuses the keep-alive connection for its next request
 * gets ECONNRESET (Node's fetch did, for a few percent of requests). Reading
 * a small body to the end first keeps the connection reusable. Bigger bodies
 * are not read: they are answered and the connection is left to close.
 */
async function drainBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  const length = Number(request.headers.get("Content-Length") ?? Number.NaN);
  if (!(length <= DRAIN_LIMIT)) return;
  try {
    await request.arrayBuffer();
  } catch {
    // The client went away or the body was already being read elsewhere.
  }
}

export function invalidRoom(): ApiError {
  return new ApiError(400, "invalid_room", ROOM_NAME_RULE);
}

/** A handler for the methods a route does not serve. */
export function methodNotAllowed(allow: string): () => never {
  return () => {
    throw new ApiError(405, "method_not_allowed", `This route accepts ${allow}.`, { Allow: allow });
  };
}
