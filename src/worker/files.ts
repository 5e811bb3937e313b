/**
 * File attachments over HTTP (protocol §11): the upload route and the
 * signed file route. The Worker streams the bytes between the client and
 * R2 (src/files/upload.ts); the room decides who may upload and what may
 * be served, over RPC, and never receives a body. Everything the Worker
 * can refuse from the headers alone (name, type, a Content-Length over the
 * limit, a missing token) it refuses before the room is asked.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { filesSecret, UrlSigner } from "../files/signing";
import { discard, storeUpload } from "../files/upload";
import type { UploadGrant } from "../room/features/files";
import { decodeFileName, FileIdSchema, type FileType, fileType, isImageType } from "../shared/files";
import { readLimits } from "../shared/limits";
import { ApiError } from "./http-error";
import { roomParam, roomStub } from "./rooms";

type App = { Bindings: Env };

/** POST /api/rooms/:room/files (§11.1). */
export async function upload(c: Context<App>): Promise<Response> {
  const max = readLimits(c.env).maxUploadBytes;
  let admitted: Admitted;
  try {
    admitted = await admit(c, max);
  } catch (err) {
    // Refused before a byte was looked at; the body is still read into
    // nothing (up to twice the limit) so the client gets this answer, not a
    // connection reset while it is still sending (src/files/upload.ts, `discard`).
    if (c.req.raw.body) await discard(c.req.raw.body.getReader(), 2 * max);
    throw err;
  }
  const { name, type, length, stub, grant } = admitted;
  const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() });
  const stored = await storeUpload(c.env.FILES, grant.key, body, { type, length, max });
  if (!stored.ok) throw new ApiError(stored.code === "too_large" ? 413 : 415, stored.code, stored.message);
  const { size, width, height } = stored;
  try {
    const file = await stub.recordUpload(grant.owner, {
      id: grant.id,
      name,
      type,
      size,
      ...(width === undefined ? {} : { width, height }),
    });
    return c.json({ file }, 201);
  } catch (err) {
    // The room never heard of it, so nothing would ever delete it.
    await c.env.FILES.delete(grant.key);
    throw err;
  }
}

type Admitted = {
  name: string;
  type: FileType;
  length: number | undefined;
  stub: ReturnType<typeof roomStub>;
  grant: Extract<UploadGrant, { ok: true }>;
};

/**
 * What the headers alone settle, refused in the Worker before the room is
 * asked (docs/protocol.md §11.1 has the order), then the room's grant.
 */
async function admit(c: Context<App>, max: number): Promise<Admitted> {
  const room = roomParam(c);
  if (filesSecret(c.env) === undefined) throw uploadsOff();
  const name = decodeFileName(c.req.header("X-File-Name"));
  if (!name.ok) throw new ApiError(400, "bad_request", name.message);
  const type = fileType(c.req.header("Content-Type"));
  if (!type)
    throw new ApiError(415, "unsupported_type", "Allowed: PNG, JPEG, GIF and WebP images, PDF and plain text.");
  const declared = c.req.header("Content-Length");
  if (declared !== undefined && !/^\d{1,16}$/.test(declared))
    throw new ApiError(400, "bad_request", "Bad Content-Length.");
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > max) throw new ApiError(413, "too_large", `A file may be at most ${max} bytes.`);
  const token = /^Bearer (.+)$/.exec(c.req.header("Authorization") ?? "")?.[1];
  if (token === undefined) throw notJoined();
  const stub = roomStub(c.env, room);
  const grant = await stub.grantUpload(token);
  if (!grant.ok) throw new ApiError(grant.status, grant.code, grant.message);
  return { name: name.name, type, length, stub, grant };
}

/** GET /files/:room/:id?exp=&sig= (§11.3): the stored bytes, for whoever holds a valid URL. */
export async function serve(c: Context<App>): Promise<Response> {
  const room = roomParam(c);
  const id = c.req.param("id");
  const secret = filesSecret(c.env);
  if (secret === undefined || !v.is(FileIdSchema, id)) throw notFound();
  const signer = new UrlSigner(secret, readLimits(c.env).fileUrlTtlS);
  if (!(await signer.verify(room, id, c.req.query("exp"), c.req.query("sig"), Date.now()))) throw notFound();
  const file = await roomStub(c.env, room).servable(id);
  if (!file) throw notFound();

  const range = parseRange(c.req.header("Range"), file.size);
  if (range === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${file.size}` } });
  }
  const object = await c.env.FILES.get(file.key, range ? { range } : {});
  if (!object) throw notFound();
  const headers = new Headers({
    "Content-Type": file.type,
    "X-Content-Type-Options": "nosniff",
    // Opened directly, a file is a sandboxed document with nothing to run or load.
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Content-Disposition": isImageType(file.type) ? "inline" : attachment(file.name),
    "Accept-Ranges": "bytes",
    // Embedding sites show these images too; the URL is the credential.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "private, max-age=3600",
    ETag: object.httpEtag,
  });
  if (!range) {
    headers.set("Content-Length", String(file.size));
    return new Response(object.body, { status: 200, headers });
  }
  headers.set("Content-Length", String(range.length));
  headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${file.size}`);
  return new Response(object.body, { status: 206, headers });
}

/**
 * One byte range (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or `bytes=-n`,
 * as R2's offset and length. Anything else (several ranges, other units)
 * is ignored and the whole file is served, as the RFC allows.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { offset: number; length: number } | "unsatisfiable" | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const [, from = "", to = ""] = m;
  if (from === "") {
    const suffix = Number(to);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const offset = Number(from);
  const last = to === "" ? size - 1 : Math.min(Number(to), size - 1);
  if (offset >= size || last < offset) return "unsatisfiable";
  return { offset, length: last - offset + 1 };
}

/** `attachment` with the name twice: plain ASCII for old clients, and exact as RFC 6266's `filename*`. */
function attachment(name: string): string {
  const plain = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function notFound(): ApiError {
  return new ApiError(404, "not_found", "No such file, or its link has expired.");
}

function notJoined(): ApiError {
  return new ApiError(401, "not_joined", "Upload with the token of a socket joined to this room.");
}

/** §11: without FILES_SECRET every upload is 404. */
function uploadsOff(): ApiError {
  return new ApiError(404, "not_found", "File uploads are not enabled on this server.");
}
