/**
 * Uploads (protocol §11) through `wrangler dev` itself, as `npm run dev`
 * runs it: its own FILES_SECRET made by the dev script, R2 inside
 * Miniflare, and wrangler's dev proxy in front. The proxy is where a
 * request answered without reading its body can spoil the next request on
 * the same connection, so every refusal here is followed by a good upload
 * over the one keep-alive connection.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UploadAnswerSchema } from "../../src/shared/http";
import { ChatClient, freshRoom } from "../support/client";
import { type DevServer, startDev } from "../support/dev-server";
import { png } from "../support/files";
import { ROOT } from "../support/paths";

const MAX = 256 * 1024;
let dev: DevServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edge-chat-dev-"));
  const envFile = join(dir, ".dev.vars");
  // What `npm run dev` runs first, against a file of the test's own.
  execFileSync("node", ["scripts/dev-vars.mjs"], {
    cwd: ROOT,
    env: { ...process.env, EDGE_CHAT_DEV_VARS: envFile },
    stdio: "ignore",
  });
  expect(readFileSync(envFile, "utf8")).toMatch(/^FILES_SECRET=[A-Za-z0-9_-]{43}$/m);
  dev = await startDev({
    envFile,
    persistTo: join(dir, "state"),
    vars: { MAX_UPLOAD_BYTES: MAX, UPLOADS_PER_HOUR: 100 },
  });
}, 60_000);

afterAll(async () => {
  await dev?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One connection for every request of a test, so a spoiled connection shows on the next request. */
function oneConnection() {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (path: string, headers: Record<string, string>, body?: Uint8Array | Uint8Array[]) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${dev.origin}${path}`, { method: body ? "POST" : "GET", agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      // An array is sent chunked (no Content-Length).
      if (Array.isArray(body)) for (const part of body) req.write(part);
      else if (body) req.write(body);
      req.end();
    });
  return { send, close: () => agent.destroy() };
}

async function joinedToken(room: string): Promise<{ client: ChatClient; token: string }> {
  const client = await ChatClient.connect(`${dev.origin.replace("http", "ws")}/chat/${room}`);
  const welcome = await client.join("Ann", { protocol: 3 });
  return { client, token: welcome.token };
}

describe("uploads on wrangler dev (§11)", () => {
  it("works on npm run dev with the secret the dev script made: upload, attach, open", async () => {
    const room = freshRoom("dev-files");
    const { client, token } = await joinedToken(room);
    const bytes = png(4, 3);
    const res = await fetch(`${dev.origin}/api/rooms/${room}/files`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "image/png", "X-File-Name": "dot.png" },
      body: bytes,
    });
    expect(res.status).toBe(201);
    const file = v.parse(UploadAnswerSchema, await res.json()).file;
    client.send({ type: "chat", text: "", files: [file.id] });
    const chat = await client.next("chat");
    const opened = await fetch(`${dev.origin}${chat.files?.[0]?.url}`);
    expect([opened.status, (await opened.arrayBuffer()).byteLength, chat.files?.[0]?.width]).toEqual([
      200,
      bytes.length,
      4,
    ]);
    await client.close();
  });

  it("keeps the connection usable after each kind of refused body", async () => {
    const room = freshRoom("dev-files");
    const { client, token } = await joinedToken(room);
    const conn = oneConnection();
    const headers = (type: string, extra: Record<string, string> = {}) => ({
      Authorization: `Bearer ${token}`,
      "Content-Type": type,
      "X-File-Name": "f",
      ...extra,
    });
    const over = new Uint8Array(MAX + 1).fill(0x41);
    const good = png(2, 2);
    const statuses: number[] = [];
    const refusals: Array<() => Promise<{ status: number }>> = [
      // A Content-Length over the limit: refused before reading.
      () => conn.send(`/api/rooms/${room}/files`, headers("text/plain"), over),
      // The same body chunked: refused once it passes the limit.
      () =>
        conn.send(`/api/rooms/${room}/files`, headers("text/plain"), [
          over.subarray(0, MAX / 2),
          over.subarray(MAX / 2),
        ]),
      // A type outside the list, refused from the headers.
      () => conn.send(`/api/rooms/${room}/files`, headers("image/svg+xml"), new Uint8Array(100_000)),
      // A PNG renamed .jpg, refused after its first bytes.
      () => conn.send(`/api/rooms/${room}/files`, headers("image/jpeg"), png(300, 300)),
      // No token.
      () => conn.send(`/api/rooms/${room}/files`, { "Content-Type": "image/png", "X-File-Name": "f" }, good),
    ];
    for (const refuse of refusals) {
      statuses.push((await refuse()).status);
      statuses.push((await conn.send(`/api/rooms/${room}/files`, headers("image/png"), good)).status);
    }
    expect(statuses).toEqual([413, 201, 413, 201, 415, 201, 415, 201, 401, 201]);
    conn.close();
    await client.close();
  });
});
