/**
 * Files for the upload tests (protocol §11): a real PNG any browser draws,
 * and the smallest headers of JPEG, GIF and WebP that give a width and a
 * height, plus the upload request as a client makes it.
 */
import { deflateSync } from "node:zlib";

/** Bytes over a plain ArrayBuffer, as fetch and Blob take them. */
export type Bytes = Uint8Array<ArrayBuffer>;

function bytes(buffer: Buffer): Bytes {
  return new Uint8Array(buffer);
}

/** A real, decodable PNG of one colour. */
export function png(width: number, height: number, rgb: [number, number, number] = [200, 30, 30]): Bytes {
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return bytes(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", ihdr),
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", Buffer.alloc(0)),
    ]),
  );
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A JPEG's start: SOI, an APP0 segment of `pad` bytes, then SOF0 with the size. */
export function jpeg(width: number, height: number, pad = 16): Bytes {
  const app0 = Buffer.alloc(4 + pad);
  app0.set([0xff, 0xe0], 0);
  app0.writeUInt16BE(pad + 2, 2);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return bytes(Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]));
}

export function gif(width: number, height: number): Bytes {
  const head = Buffer.alloc(13);
  head.write("GIF89a", 0, "ascii");
  head.writeUInt16LE(width, 6);
  head.writeUInt16LE(height, 8);
  return bytes(Buffer.concat([head, Buffer.from([0x3b])]));
}

/** A WebP with an extended (VP8X) header. */
export function webp(width: number, height: number): Bytes {
  const body = Buffer.alloc(18);
  body.write("VP8X", 0, "ascii");
  body.writeUInt32LE(10, 4);
  body.writeUIntLE(width - 1, 12, 3);
  body.writeUIntLE(height - 1, 15, 3);
  const head = Buffer.alloc(12);
  head.write("RIFF", 0, "ascii");
  head.writeUInt32LE(4 + body.length, 4);
  head.write("WEBP", 8, "ascii");
  return bytes(Buffer.concat([head, body]));
}

export interface UploadRequest {
  token?: string;
  name?: string;
  type?: string;
  /** Sent chunked, without a Content-Length. */
  chunked?: boolean;
  headers?: Record<string, string>;
}

/** POST /api/rooms/:room/files as a client sends it. */
export function uploadRequest(body: Uint8Array, options: UploadRequest = {}): RequestInit {
  const headers: Record<string, string> = {
    "Content-Type": options.type ?? "image/png",
    "X-File-Name": encodeURIComponent(options.name ?? "picture.png"),
    ...options.headers,
  };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (!options.chunked) return { method: "POST", headers, body: new Uint8Array(body) };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < body.length; at += 64 * 1024) controller.enqueue(body.subarray(at, at + 64 * 1024));
      controller.close();
    },
  });
  return { method: "POST", headers, body: stream, duplex: "half" } as RequestInit;
}
