/**
 * HTTP errors in the protocol's shape: `{"error": code, "message": text}`
 * (protocol §4). Routes throw them; the Worker's onError renders them.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

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

export function renderError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json({ error: err.code, message: err.message }, err.status, err.headers);
  // Never a stack or an internal message to the caller.
  console.error("worker: unhandled error:", `${err.name}: ${err.message}`);
  return c.json({ error: "internal_error", message: "Something went wrong." }, 500);
}

export function invalidRoom(): ApiError {
  return new ApiError(
    400,
    "invalid_room",
    "Room names are 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit.",
  );
}

/** A handler for the methods a route does not serve. */
export function methodNotAllowed(allow: string): () => never {
  return () => {
    throw new ApiError(405, "method_not_allowed", `This route accepts ${allow}.`, { Allow: allow });
  };
}
