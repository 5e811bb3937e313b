/**
 * Protocol §11 over real HTTP and sockets (R2 inside Miniflare): uploading
 * (§11.1), attaching (§11.2) and serving (§11.3). Every answer is read
 * through the wire module's schemas; the bucket itself is listed to show
 * what was (not) stored.
 */
import { createHash } from "node:crypto";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ClientConfigSchema, ErrorBodySchema, UploadAnswerSchema } from "../../src/shared/http";
import type { FileInfo } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { gif, jpeg, png, type UploadRequest, uploadRequest, webp } from "../support/files";
import { chatSuite } from "../support/server";

const MAX = 6 * 1024 * 1024 + 10;
const FILES_SECRET = "test-files-secret-0123456789abcdef-0123456789";
const API_TOKEN = "test-api-token-for-files-0123456789";
const suite = chatSuite({
  vars: {
    FILES_SECRET,
    API_TOKEN,
    MAX_UPLOAD_BYTES: MAX,
    UPLOADS_PER_HOUR: 5,
    FILE_URL_TTL_S: 3,
    RATE_BURST: 1000,
    ADDRESS_RATE_BURST: 1000,
  },
});

async function joined(room: string, name = "Ann", from?: string) {
  const client = await ChatClient.connect(suite.server.wsUrl(room), {}, from);
  const welcome = await client.join(name, { protocol: 3 });
  return { client, token: welcome.token };
}

async function post(room: string, body: Uint8Array, options: UploadRequest) {
  const res = await suite.server.http(`/api/rooms/${room}/files`, uploadRequest(body, options));
  return { status: res.status, body: (await res.json()) as unknown };
}

async function uploaded(room: string, token: string, body: Uint8Array = png(3, 2), options: UploadRequest = {}) {
  const answer = await post(room, body, { token, ...options });
  expect(answer.status).toBe(201);
  return v.parse(UploadAnswerSchema, answer.body).file;
}

function errorOf(answer: { status: number; body: unknown }) {
  return { status: answer.status, error: v.parse(ErrorBodySchema, answer.body).error };
}

async function objects(room: string): Promise<string[]> {
  const bucket = await suite.server.mf.getR2Bucket("FILES");
  const listed = await bucket.list({ prefix: `${room}/` });
  return listed.objects.map((o) => o.key);
}

const sha = (bytes: Uint8Array | ArrayBuffer) => createHash("sha256").update(new Uint8Array(bytes)).digest("hex");

describe("uploading (§11.1)", () => {
  it("stores a PNG and answers 201 with its id, name, type, size, width, height and URL", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const bytes = png(3, 2);
    const file = await uploaded(room, token, bytes, { name: "red dot ✓.png" });
    expect(file).toMatchObject({ name: "red dot ✓.png", type: "image/png", size: bytes.length, width: 3, height: 2 });
    expect(file.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(file.url).toMatch(new RegExp(`^/files/${room}/${file.id}\\?exp=\\d+&sig=[A-Za-z0-9_-]{43}$`));
    const res = await suite.server.http(file.url);
    expect(res.status).toBe(200);
    expect(sha(await res.arrayBuffer())).toBe(sha(bytes));
    expect(await objects(room)).toEqual([`${room}/${file.id}`]);
  });

  it("reads the width and height of JPEG, GIF and WebP images", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const sizes = [];
    for (const [body, type] of [
      [jpeg(640, 480, 3000), "image/jpeg"],
      [gif(7, 9), "image/gif"],
      [webp(1024, 768), "image/webp"],
    ] as const) {
      const f = await uploaded(room, token, body, { type, name: `x.${type.slice(6)}` });
      sizes.push([f.type, f.width, f.height]);
    }
    expect(sizes).toEqual([
      ["image/jpeg", 640, 480],
      ["image/gif", 7, 9],
      ["image/webp", 1024, 768],
    ]);
  });

  it("stores a PDF and a text file without width or height", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const pdf = await uploaded(room, token, new TextEncoder().encode("%PDF-1.4\n"), {
      type: "application/pdf",
      name: "a.pdf",
    });
    const text = await uploaded(room, token, new TextEncoder().encode("hello\n"), {
      type: "text/plain; charset=utf-8",
      name: "notes.txt",
    });
    expect([pdf.type, text.type, "width" in pdf, "width" in text]).toEqual([
      "application/pdf",
      "text/plain",
      false,
      false,
    ]);
  });

  it("gives every upload a different random id of 128 bits or more", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) ids.add((await uploaded(room, token)).id);
    expect(ids.size).toBe(4);
    // 22 base64url characters are 132 bits, of which 128 are random.
    for (const id of ids) expect(id).toHaveLength(22);
  });

  it("refuses a token no joined socket holds with 401 not_joined", async () => {
    const room = freshRoom("files");
    const { client, token } = await joined(room);
    expect(errorOf(await post(room, png(1, 1), {}))).toEqual({ status: 401, error: "not_joined" });
    expect(errorOf(await post(room, png(1, 1), { token: "x".repeat(24) }))).toEqual({
      status: 401,
      error: "not_joined",
    });
    // A welcome token of another room.
    const other = await joined(freshRoom("files"), "Bob");
    expect(errorOf(await post(room, png(1, 1), { token: other.token }))).toEqual({ status: 401, error: "not_joined" });
    // Once the socket has left, its token uploads no more.
    await client.close();
    await expect.poll(async () => (await post(room, png(1, 1), { token })).status).toBe(401);
  });

  it("refuses a muted member with 403 muted", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room, "Ann");
    const res = await suite.server.http(`/api/rooms/${room}/moderation`, {
      method: "POST",
      headers: { Authorization: `Bearer ${API_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ action: "mute", name: "Ann", minutes: 5 }),
    });
    expect(res.status).toBe(200);
    expect(errorOf(await post(room, png(1, 1), { token }))).toEqual({ status: 403, error: "muted" });
  });

  it("refuses a bad X-File-Name with 400 bad_request, counting code points", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const bad = (headers: Record<string, string>) => post(room, png(1, 1), { token, headers });
    for (const name of ["", "a/b.png", "a\\b.png", "a%00b.png", "%E0%A4%A", encodeURIComponent("é".repeat(201))]) {
      expect(errorOf(await bad({ "X-File-Name": name })), name).toEqual({ status: 400, error: "bad_request" });
    }
    // 200 two-unit emoji are 200 characters: allowed.
    expect((await bad({ "X-File-Name": encodeURIComponent("😀".repeat(200)) })).status).toBe(201);
  });

  it("refuses a type outside the list, and an image whose bytes are another type, with 415", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const svg = new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>");
    expect(errorOf(await post(room, svg, { token, type: "image/svg+xml", name: "a.svg" }))).toEqual({
      status: 415,
      error: "unsupported_type",
    });
    expect(errorOf(await post(room, png(4, 4), { token, type: "image/jpeg", name: "renamed.jpg" }))).toEqual({
      status: 415,
      error: "unsupported_type",
    });
    const text = new TextEncoder().encode("not a gif at all");
    expect(errorOf(await post(room, text, { token, type: "image/gif", name: "fake.gif" }))).toEqual({
      status: 415,
      error: "unsupported_type",
    });
    expect(await objects(room)).toEqual([]);
  });

  it("refuses a body over MAX_UPLOAD_BYTES with 413, with and without a Content-Length, storing none of it", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const over = new Uint8Array(MAX + 1);
    over.set(new TextEncoder().encode("plain text"));
    const options = { token, type: "text/plain", name: "big.txt" };
    expect(errorOf(await post(room, over, options))).toEqual({ status: 413, error: "too_large" });
    expect(errorOf(await post(room, over, { ...options, chunked: true }))).toEqual({ status: 413, error: "too_large" });
    expect(await objects(room)).toEqual([]);
    // Exactly the limit is allowed, chunked too (stored in two R2 parts).
    const exact = over.subarray(0, MAX);
    const file = await uploaded(room, token, exact, { ...options, chunked: true });
    expect(file.size).toBe(MAX);
    expect(sha(await (await suite.server.http(file.url)).arrayBuffer())).toBe(sha(exact));
  });

  it("answers the next request on the same connection after refusing an unread body", async () => {
    const room = freshRoom("files");
    const { token } = await joined(room);
    const svg = new Uint8Array(200 * 1024).fill(0x20);
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push((await post(room, new Uint8Array(MAX + 1), { token, type: "text/plain" })).status);
      results.push((await suite.server.http("/health")).status);
      results.push((await post(room, svg, { token, type: "image/svg+xml" })).status);
      results.push((await suite.server.http("/health")).status);
    }
    expect(results).toEqual([413, 200, 415, 200, 413, 200, 415, 200, 413, 200, 415, 200]);
  });

  it("allows UPLOADS_PER_HOUR per member; a guest's new name from the same address gets no more", async () => {
    const room = freshRoom("files");
    const { client, token } = await joined(room, "Ann");
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(room, png(1, 1), { token })).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    await client.close();
    const again = await joined(room, "Annie");
    expect(errorOf(await post(room, png(1, 1), { token: again.token }))).toEqual({
      status: 429,
      error: "rate_limited",
    });
  });
});

describe("attaching (§11.2)", () => {
  it("carries the files, signed, on the chat frame everyone receives, and allows an empty text", async () => {
    const room = freshRoom("files");
    const ann = await joined(room, "Ann");
    const bob = await joined(room, "Bob");
    const file = await uploaded(room, ann.token);
    ann.client.send({ type: "chat", text: " ", files: [file.id] });
    const chat = await bob.client.next("chat");
    expect(chat.text).toBe(" ");
    expect(chat.files).toEqual([{ ...file, url: expect.stringMatching(/^\/files\//) }]);
    expect((await suite.server.http(chat.files?.[0]?.url ?? "")).status).toBe(200);
  });

  it("refuses a blank text without files, and `files: []`, with bad_message", async () => {
    const room = freshRoom("files");
    const ann = await joined(room);
    ann.client.send({ type: "chat", text: " " });
    ann.client.send({ type: "chat", text: "hi", files: [] });
    expect([(await ann.client.next("error")).code, (await ann.client.next("error")).code]).toEqual([
      "bad_message",
      "bad_message",
    ]);
  });

  it("refuses someone else's upload, an unknown id and an attached file with not_found", async () => {
    const room = freshRoom("files");
    const ann = await joined(room, "Ann");
    const bob = await joined(room, "Bob");
    const bobs = await uploaded(room, bob.token);
    const anns = await uploaded(room, ann.token);
    ann.client.send({ type: "chat", text: "x", files: [bobs.id] });
    ann.client.send({ type: "chat", text: "x", files: ["A".repeat(22)] });
    ann.client.send({ type: "chat", text: "first", files: [anns.id] });
    ann.client.send({ type: "chat", text: "again", files: [anns.id] });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await ann.client.next("error")).code);
    expect(codes).toEqual(["not_found", "not_found", "not_found"]);
    expect((await ann.client.next("chat")).text).toBe("first");
  });

  it("refuses more than four files, and the same file twice, with bad_message", async () => {
    const room = freshRoom("files");
    const ann = await joined(room);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await uploaded(room, ann.token)).id);
    ann.client.send({ type: "chat", text: "x", files: ids });
    ann.client.send({ type: "chat", text: "x", files: [ids[0], ids[0]] });
    expect([(await ann.client.next("error")).code, (await ann.client.next("error")).code]).toEqual([
      "bad_message",
      "bad_message",
    ]);
  });
});

describe("serving (§11.3)", () => {
  async function withFile(type = "image/png", body: Uint8Array = png(5, 5), name = "x.png") {
    const room = freshRoom("files");
    const ann = await joined(room);
    const file = await uploaded(room, ann.token, body, { type, name });
    return { room, ann, file };
  }

  it("serves an image inline with nosniff, a sandbox CSP and its length", async () => {
    const { file } = await withFile();
    const res = await suite.server.http(file.url);
    expect(res.status).toBe(200);
    expect(
      Object.fromEntries(
        [
          "content-type",
          "content-length",
          "x-content-type-options",
          "content-security-policy",
          "content-disposition",
        ].map((h) => [h, res.headers.get(h)]),
      ),
    ).toEqual({
      "content-type": "image/png",
      "content-length": String(file.size),
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox; default-src 'none'",
      "content-disposition": "inline",
    });
  });

  it("serves any other type as an attachment with its name", async () => {
    const { file } = await withFile(
      "text/plain",
      new TextEncoder().encode("<script>alert(1)</script>"),
      'évil "1".txt',
    );
    const res = await suite.server.http(file.url);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="_vil _1_.txt"; filename*=UTF-8''${encodeURIComponent('évil "1".txt')}`,
    );
    expect(res.headers.get("content-type")).toBe("text/plain");
  });

  it("answers a Range request with 206 and just those bytes", async () => {
    const bytes = new TextEncoder().encode("0123456789");
    const { file } = await withFile("text/plain", bytes, "digits.txt");
    const part = await suite.server.http(file.url, { headers: { Range: "bytes=2-5" } });
    expect([part.status, part.headers.get("content-range"), await part.text()]).toEqual([206, "bytes 2-5/10", "2345"]);
    const tail = await suite.server.http(file.url, { headers: { Range: "bytes=-3" } });
    expect([tail.status, await tail.text()]).toEqual([206, "789"]);
    const beyond = await suite.server.http(file.url, { headers: { Range: "bytes=10-" } });
    expect([beyond.status, beyond.headers.get("content-range")]).toEqual([416, "bytes */10"]);
  });

  it("answers 404 for a changed signature, a missing one, and another file's id under a URL", async () => {
    const { room, ann, file } = await withFile();
    const other = await uploaded(room, ann.token);
    const sig = /sig=([^&]+)/.exec(file.url)?.[1] ?? "";
    const flipped = sig.startsWith("A") ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
    for (const url of [
      file.url.replace(sig, flipped),
      file.url.replace(/&sig=.*/, ""),
      file.url.replace(file.id, other.id),
      file.url.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 100}`),
    ]) {
      const res = await suite.server.http(url);
      expect([res.status, v.parse(ErrorBodySchema, await res.json()).error], url).toEqual([404, "not_found"]);
    }
  });

  it("answers 404 once the URL has expired", async () => {
    const { file } = await withFile();
    const exp = Number(/exp=(\d+)/.exec(file.url)?.[1]);
    expect((await suite.server.http(file.url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50));
    expect((await suite.server.http(file.url)).status).toBe(404);
  });

  it("signs the URLs afresh in a later welcome and history answer", async () => {
    const { room, ann, file } = await withFile();
    ann.client.send({ type: "chat", text: "pic", files: [file.id] });
    const sent = await ann.client.next("chat");
    // Two signing steps of one second each (FILE_URL_TTL_S 3): the room signs again.
    await new Promise((r) => setTimeout(r, 2100));
    const bob = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await bob.join("Bob", { protocol: 3 });
    bob.send({ type: "history", before: 100 });
    const page = await bob.next("history");
    const exp = (f: FileInfo | undefined) => Number(/exp=(\d+)/.exec(f?.url ?? "")?.[1]);
    const first = exp(sent.files?.[0]);
    expect(exp(welcome.history[0]?.files?.[0])).toBeGreaterThan(first);
    expect(exp(page.messages[0]?.files?.[0])).toBeGreaterThan(first);
    expect((await suite.server.http(welcome.history[0]?.files?.[0]?.url ?? "")).status).toBe(200);
  });

  it("deletes a deleted message's files from the bucket: the URL answers 404", async () => {
    const { room, ann, file } = await withFile();
    ann.client.send({ type: "chat", text: "oops", files: [file.id] });
    const chat = await ann.client.next("chat");
    ann.client.send({ type: "delete", seq: chat.seq });
    await ann.client.next("update");
    expect((await suite.server.http(chat.files?.[0]?.url ?? "")).status).toBe(404);
    await expect.poll(() => objects(room)).toEqual([]);
  });
});

describe("uploads off (§11)", () => {
  const off = chatSuite({ vars: { FILES_SECRET: "too short" } });

  it("answers every upload 404 not_found, and the page's config says so", async () => {
    const room = freshRoom("files");
    const client = await ChatClient.connect(off.server.wsUrl(room));
    const { token } = await client.join("Ann");
    const res = await off.server.http(`/api/rooms/${room}/files`, uploadRequest(png(1, 1), { token }));
    expect([res.status, v.parse(ErrorBodySchema, await res.json()).error]).toEqual([404, "not_found"]);
    const config = v.parse(ClientConfigSchema, await (await off.server.http("/api/config")).json());
    expect(config.uploads).toBeNull();
  });
});
