/**
 * Streams an upload's body into R2 (protocol §11.1) without ever holding
 * the whole file: the bytes pass through as they arrive, checked on the
 * way (size, and for an image its signature and header), and a body that
 * breaks a rule is aborted so R2 keeps none of it.
 *
 * R2 needs to know a stream's length before it starts. With a
 * Content-Length the body goes through a FixedLengthStream in one `put`.
 * Without one (a chunked upload) the bytes are gathered into 5 MiB parts:
 * a file that ends within the first part is one `put` of it, a longer one a
 * multipart upload, aborted if it grows past the limit. So the Worker holds
 * at most one part (5 MiB) whatever the file's size.
 */
import { imageDimensionsFromData } from "image-dimensions";
import { type FileType, IMAGE_KINDS, matchesSignature, SIGNATURE_BYTES } from "../shared/files";

/** R2's smallest multipart part (all but the last): 5 MiB. */
export const PART_BYTES = 5 * 1024 * 1024;
/**
 * How much of an image's start is kept to read its width and height: a
 * JPEG's size comes after its metadata segments (EXIF, ICC profiles),
 * which rarely pass 64 KiB; past this the image counts as unreadable.
 */
export const IMAGE_HEAD_BYTES = 256 * 1024;

export type Refusal = { ok: false; code: "too_large" | "unsupported_type"; message: string };
export type Stored = { ok: true; size: number; width?: number; height?: number } | Refusal;

export interface UploadOptions {
  type: FileType;
  /** The declared Content-Length, when there was one (already checked against `max`). */
  length: number | undefined;
  max: number;
}

/** Stores `body` under `key`, or refuses it and stores nothing. */
export async function storeUpload(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  options: UploadOptions,
): Promise<Stored> {
  const check = new ImageCheck(options.type);
  const sink =
    options.length === undefined ? new PartSink(bucket, key, options.type) : new FixedSink(bucket, key, options);
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > options.max) return await refuse(reader, sink, tooLarge(options.max), options.max);
      const verdict = check.push(value);
      if (verdict === false) return await refuse(reader, sink, notThatType(options.type), options.max);
      await sink.write(value);
    }
    const image = check.end();
    if (image === false) return await refuse(reader, sink, notThatType(options.type), 0);
    await sink.close();
    return { ok: true, size, ...(image === true ? {} : image) };
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/** Aborts what was stored, and reads the rest of the body into nothing (`discard`) before the refusal is answered. */
async function refuse(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  sink: Sink,
  refusal: Refusal,
  drain: number,
): Promise<Refusal> {
  await sink.abort();
  await discard(reader, drain);
  return refusal;
}

/**
 * Reads a refused body to its end, up to `cap` bytes, then cancels what is
 * left. Answering without reading is not safe locally: the runtime resets
 * the connection while the client is still sending (it sees ECONNRESET,
 * not the 413), and under wrangler dev's proxy the next request on the
 * same connection was sometimes answered 503; cancelling a half-read body
 * did the same (test/node/dev-uploads.test.ts, test/node/files.test.ts).
 * A body that goes on past `cap` (twice the limit at most) is cut off.
 */
export async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, cap: number): Promise<void> {
  let left = cap;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      left -= value.byteLength;
      if (left < 0) break;
    }
  } catch {
    return;
  }
  await reader.cancel().catch(() => {});
}

function tooLarge(max: number): Refusal {
  return { ok: false, code: "too_large", message: `A file may be at most ${max} bytes.` };
}

function notThatType(type: FileType): Refusal {
  return { ok: false, code: "unsupported_type", message: `The file is not a readable ${type}.` };
}

/**
 * §11.1: an image's first bytes must be its declared type's, and its header
 * must give a width and height. `push` answers false as soon as the
 * signature is wrong, true once the image is known good, undefined while it
 * needs more; `end` gives the dimensions (or true for a type that is not an image).
 */
class ImageCheck {
  readonly #type: FileType;
  readonly #kind: string | undefined;
  #head: Uint8Array = new Uint8Array(0);
  #found: { width: number; height: number } | undefined;

  constructor(type: FileType) {
    this.#type = type;
    this.#kind = IMAGE_KINDS[type];
  }

  push(chunk: Uint8Array): boolean | undefined {
    if (this.#kind === undefined || this.#found) return true;
    if (this.#head.length >= IMAGE_HEAD_BYTES) return false;
    const room = IMAGE_HEAD_BYTES - this.#head.length;
    this.#head = concat([this.#head, chunk.subarray(0, room)]);
    if (this.#head.length >= SIGNATURE_BYTES && !matchesSignature(this.#type, this.#head)) return false;
    const found = imageDimensionsFromData(this.#head);
    if (found && found.type === this.#kind) {
      this.#found = { width: found.width, height: found.height };
      // Nothing more to look at: let the kept bytes go.
      this.#head = new Uint8Array(0);
      return true;
    }
    return undefined;
  }

  end(): { width: number; height: number } | boolean {
    if (this.#kind === undefined) return true;
    return this.#found ?? false;
  }
}

interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** A body of known length: one `put` through a FixedLengthStream, as it arrives. */
class FixedSink implements Sink {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #put: Promise<R2Object | null>;

  constructor(bucket: R2Bucket, key: string, options: UploadOptions) {
    const { readable, writable } = new FixedLengthStream(options.length ?? 0);
    this.#writer = writable.getWriter();
    this.#put = bucket.put(key, readable, { httpMetadata: { contentType: options.type } });
    // Observed here so an aborted upload's rejection is never unhandled.
    this.#put.catch(() => {});
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.#writer.write(chunk);
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#put;
  }

  async abort(): Promise<void> {
    await this.#writer.abort(new Error("upload refused")).catch(() => {});
  }
}

/** A body of unknown length: gathered into PART_BYTES parts, one `put` or a multipart upload. */
class PartSink implements Sink {
  readonly #bucket: R2Bucket;
  readonly #key: string;
  readonly #type: FileType;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #multipart: R2MultipartUpload | undefined;
  readonly #parts: R2UploadedPart[] = [];

  constructor(bucket: R2Bucket, key: string, type: FileType) {
    this.#bucket = bucket;
    this.#key = key;
    this.#type = type;
  }

  async write(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    while (rest.byteLength > 0) {
      const take = rest.subarray(0, PART_BYTES - this.#bytes);
      this.#chunks.push(take);
      this.#bytes += take.byteLength;
      rest = rest.subarray(take.byteLength);
      if (this.#bytes === PART_BYTES) await this.#flush();
    }
  }

  async close(): Promise<void> {
    const last = concat(this.#chunks);
    if (!this.#multipart) {
      await this.#bucket.put(this.#key, last, { httpMetadata: { contentType: this.#type } });
      return;
    }
    if (last.byteLength > 0) this.#parts.push(await this.#multipart.uploadPart(this.#parts.length + 1, last));
    await this.#multipart.complete(this.#parts);
  }

  async abort(): Promise<void> {
    this.#chunks = [];
    await this.#multipart?.abort().catch(() => {});
  }

  async #flush(): Promise<void> {
    const part = concat(this.#chunks);
    this.#chunks = [];
    this.#bytes = 0;
    this.#multipart ??= await this.#bucket.createMultipartUpload(this.#key, {
      httpMetadata: { contentType: this.#type },
    });
    this.#parts.push(await this.#multipart.uploadPart(this.#parts.length + 1, part));
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
