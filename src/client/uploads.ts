/**
 * Uploading a file (protocol §11.1), for the page and the client library
 * alike: the checks the server would make, made first so a person hears
 * "too large" before a byte is sent; the request itself, with progress in
 * browsers (XMLHttpRequest is the one web API that reports upload
 * progress) and plain fetch elsewhere (Node); and every refusal in plain
 * words.
 */
import * as v from "valibot";
import { checkFileName, FILE_TYPES, fileType, MAX_FILE_NAME_CHARS } from "../shared/files";
import { ErrorBodySchema, UploadAnswerSchema } from "../shared/http";
import type { FileInfo } from "../shared/server-frames";

/** A refused or failed upload: the server's code (or `network_error`) and a sentence for people. */
export class UploadError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

export interface UploadTarget {
  /** The chat's base URL (`http(s)://…`). */
  server: string;
  room: string;
  /** The `token` of this connection's welcome (§11.1). */
  token: string;
  /** The largest file the server takes, when known (GET /api/config). */
  maxBytes?: number | undefined;
  onProgress?: (sent: number, total: number) => void;
  /** Aborts the upload (a file removed before it finished). */
  signal?: AbortSignal;
}

/** What the server would refuse about this file before it is sent (its code, in plain words); undefined if nothing. */
export function precheck(
  file: { size: number; type: string },
  name: string,
  maxBytes?: number,
): { code: string; message: string } | undefined {
  if (!fileType(file.type)) return { code: "unsupported_type", message: explain("unsupported_type", name) };
  if (maxBytes !== undefined && file.size > maxBytes)
    return { code: "too_large", message: explain("too_large", name, maxBytes) };
  if (!checkFileName(name).ok) return { code: "bad_request", message: explain("bad_request", name) };
  return undefined;
}

/** POST /api/rooms/:room/files; resolves with the stored file, rejects with an UploadError. */
export async function uploadFile(file: Blob, name: string, target: UploadTarget): Promise<FileInfo> {
  const refusal = precheck(file, name, target.maxBytes);
  if (refusal) throw new UploadError(refusal.code, refusal.message);
  const url = new URL(`/api/rooms/${encodeURIComponent(target.room)}/files`, target.server).href;
  const headers = {
    Authorization: `Bearer ${target.token}`,
    "Content-Type": fileType(file.type) ?? file.type,
    "X-File-Name": encodeURIComponent(name),
  };
  const answer =
    typeof XMLHttpRequest === "function"
      ? await withProgress(url, headers, file, target)
      : await withFetch(url, headers, file, target);
  if (answer.status === 201) {
    const parsed = v.safeParse(UploadAnswerSchema, answer.body);
    if (parsed.success) return parsed.output.file;
  }
  const error = v.safeParse(ErrorBodySchema, answer.body);
  const code = error.success ? error.output.error : "network_error";
  throw new UploadError(code, explain(code, name, target.maxBytes));
}

/** A refusal as a person reads it. */
export function explain(code: string, name: string, maxBytes?: number): string {
  switch (code) {
    case "too_large":
      return `${name} is too large${maxBytes === undefined ? "" : `: files may be up to ${size(maxBytes)}`}.`;
    case "unsupported_type":
      return `${name} can't be shared: only images (PNG, JPEG, GIF, WebP), PDFs and text files, and an image must really be one.`;
    case "rate_limited":
      return "You have uploaded too many files for now; wait a while and try again.";
    case "muted":
      return "You are muted in this room and can't share files.";
    case "not_joined":
      return "Join the room before attaching files.";
    case "not_found":
      return "This chat does not take files.";
    case "bad_request":
      return `${name}: a file's name must be 1 to ${MAX_FILE_NAME_CHARS} characters, without slashes.`;
    default:
      return `${name} could not be uploaded; check your connection and try again.`;
  }
}

/** "1.5 MB", "320 KB", "12 bytes". */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
}

/** The `accept` of a file picker: the types the server takes. */
export const ACCEPT = FILE_TYPES.join(",");

type Answer = { status: number; body: unknown };

function withProgress(url: string, headers: Record<string, string>, file: Blob, target: UploadTarget): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, value] of Object.entries(headers)) xhr.setRequestHeader(k, value);
    xhr.responseType = "text";
    xhr.upload.onprogress = (e) => target.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => resolve({ status: xhr.status, body: parseJson(xhr.responseText) });
    xhr.onerror = () => resolve({ status: 0, body: undefined });
    xhr.onabort = () => reject(new UploadError("aborted", "The upload was cancelled."));
    target.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}

async function withFetch(
  url: string,
  headers: Record<string, string>,
  file: Blob,
  target: UploadTarget,
): Promise<Answer> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: file,
      ...(target.signal ? { signal: target.signal } : {}),
    });
    target.onProgress?.(file.size, file.size);
    return { status: res.status, body: parseJson(await res.text()) };
  } catch (err) {
    if (target.signal?.aborted) throw new UploadError("aborted", "The upload was cancelled.");
    return { status: 0, body: err };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
