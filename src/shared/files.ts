/**
 * File attachments (protocol §11): the rules every side applies to an
 * upload and to a `chat` that carries files. The Worker checks an upload's
 * headers and bytes with these, the room checks `files` on a chat, and the
 * browser page refuses what the server would refuse before it sends a byte.
 */
import * as v from "valibot";
import { codePointLength } from "./text";

/** §11.1: the media types an upload may declare. */
export const FILE_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** The image types, whose first bytes must match (§11.1), as image-dimensions names them. */
export const IMAGE_KINDS: Partial<Record<FileType, string>> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp",
};

export function isImageType(type: string): boolean {
  return type in IMAGE_KINDS;
}

/** The first bytes of each image type (§11.1); WebP's are "RIFF", four bytes of size, then "WEBP". */
const SIGNATURES: Partial<Record<FileType, ReadonlyArray<ReadonlyArray<number | undefined>>>> = {
  "image/png": [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  "image/jpeg": [[0xff, 0xd8, 0xff]],
  "image/gif": [ascii("GIF87a"), ascii("GIF89a")],
  "image/webp": [[...ascii("RIFF"), undefined, undefined, undefined, undefined, ...ascii("WEBP")]],
};

/** Bytes a signature check needs at most. */
export const SIGNATURE_BYTES = 12;

function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * Whether a file's first bytes (at least SIGNATURE_BYTES, or the whole
 * file) fit its declared type: always for a type that is not an image.
 */
export function matchesSignature(type: FileType, head: Uint8Array): boolean {
  const signatures = SIGNATURES[type];
  if (!signatures) return true;
  return signatures.some((sig) => sig.length <= head.length && sig.every((b, i) => b === undefined || head[i] === b));
}

/** A declared `Content-Type` as one of FILE_TYPES (parameters and case ignored), or undefined. */
export function fileType(contentType: string | null | undefined): FileType | undefined {
  const bare = contentType?.split(";")[0]?.trim().toLowerCase();
  return FILE_TYPES.find((t) => t === bare);
}

/** §11.2: at most this many files on one message. */
export const MAX_FILES_PER_MESSAGE = 4;
/** §11.1: a file's name, in code points after percent-decoding. */
export const MAX_FILE_NAME_CHARS = 200;
/** §11.1: a file no message uses within this long is deleted. */
export const UNATTACHED_FILE_MS = 3_600_000;
/**
 * A file id: 16 random bytes (§11.1: at least 128 bits) in base64url, 22
 * characters. The schema admits only that shape, so an id in a frame or a
 * URL never needs escaping.
 */
export const FileIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}$/, "not a file id"));

/** A fresh, unguessable file id (§11.1). */
export function newFileId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/** Bytes as unpadded base64url (RFC 4648 §5): safe in a path and a query. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** No C0/C1 controls, slashes or backslashes in a file's name (§11.1). */
const BAD_NAME_CHAR = /[\p{Cc}/\\]/u;

export type NameCheck = { ok: true; name: string } | { ok: false; message: string };

/** §11.1: the `X-File-Name` header, percent-encoded UTF-8, as the file's name. */
export function decodeFileName(header: string | null | undefined): NameCheck {
  if (header === null || header === undefined || header === "") {
    return { ok: false, message: "Give the file's name in X-File-Name (percent-encoded UTF-8)." };
  }
  let name: string;
  try {
    name = decodeURIComponent(header);
  } catch {
    return { ok: false, message: "X-File-Name is not valid percent-encoded UTF-8." };
  }
  return checkFileName(name);
}

/** §11.1: a file's name is 1 to 200 code points, without `/`, `\` or control characters. */
export function checkFileName(name: string): NameCheck {
  const length = codePointLength(name);
  if (length < 1 || length > MAX_FILE_NAME_CHARS) {
    return { ok: false, message: `A file's name is 1 to ${MAX_FILE_NAME_CHARS} characters.` };
  }
  if (BAD_NAME_CHAR.test(name)) {
    return { ok: false, message: "A file's name may not hold '/', '\\' or control characters." };
  }
  return { ok: true, name };
}

/** Where a file is served (§11.3): a path on the chat's origin, signed by the query. */
export function filePath(room: string, id: string): string {
  return `/files/${room}/${id}`;
}
