/**
 * `edge-chat/client` as a site or bot gets it: built by `npm run build`
 * and imported through package.json's `exports` (the way a bundler or
 * Node resolves it), then driven against the real worker over real
 * sockets: join, send, receive, page history, the roster, a server that
 * goes away mid-conversation, and a clean close.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type * as Library from "../../src/client/lib/index";
import { freshRoom, ChatClient as TestClient } from "../support/client";
import { png } from "../support/files";
import { chatSuite, ONE_MACHINE_LOAD, startChat } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const suite = chatSuite({
  vars: {
    ...ONE_MACHINE_LOAD,
    RATE_BURST: 1000,
    RATE_PER_SEC: 1000,
    FILES_SECRET: "library-test-files-secret-0123456789abcdef",
    MAX_UPLOAD_BYTES: 1000,
    AUTH_SECRET: TEST_AUTH_SECRET,
  },
});
let lib: typeof Library;

beforeAll(async () => {
  execFileSync("node", ["scripts/build-lib.mjs"], { stdio: "pipe" });
  // The package's own name, resolved through "exports" to dist/: not the sources.
  const specifier = "edge-chat/client";
  lib = (await import(specifier)) as typeof Library;
}, 60_000);

const client = (origin: string, room: string, name: string) =>
  new lib.ChatClient({ url: origin, room, name, WebSocket });

describe("edge-chat/client", () => {
  it("is the built module from package.json's exports", async () => {
    const resolved = import.meta.resolve("edge-chat/client");
    expect(resolved).toMatch(/\/dist\/client\/index\.js$/);
  });

  it("joins, sends and receives, and keeps the messages and the roster", async () => {
    const room = freshRoom("lib");
    const ann = client(suite.server.origin, room, "Ann");
    const welcome = await ann.connect();
    expect(welcome).toMatchObject({ name: "Ann", count: 1, members: [{ name: "Ann" }] });
    const ben = await TestClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    await expect.poll(() => ann.roster.map((m) => m.name)).toEqual(["Ann", "Ben"]);

    const heard: string[] = [];
    ann.on("message", (m) => heard.push(m.text));
    const stored = await ann.send("hello from the library");
    expect(stored).toMatchObject({ seq: 1, name: "Ann", text: "hello from the library" });
    ben.send({ type: "chat", text: "hello back" });
    await expect.poll(() => heard).toEqual(["hello from the library", "hello back"]);
    expect(ann.messages.map((m) => [m.seq, m.text])).toEqual([
      [1, "hello from the library"],
      [2, "hello back"],
    ]);
    await ann.edit(1, "hello, edited");
    expect(ann.messages[0]).toMatchObject({ text: "hello, edited", edited: expect.any(Number) });
    ann.close();
    await ben.close();
  });

  it("uploads a file and sends it with a message; a refused upload rejects with the server's code", async () => {
    const room = freshRoom("lib");
    const ann = client(suite.server.origin, room, "Ann");
    await ann.connect();
    const file = await ann.upload(new Blob([png(6, 4)], { type: "image/png" }), "six.png");
    expect(file).toMatchObject({ name: "six.png", type: "image/png", width: 6, height: 4 });
    const stored = await ann.send("", { files: [file] });
    expect(stored.files?.map((f) => [f.id, f.name])).toEqual([[file.id, "six.png"]]);
    const opened = await fetch(new URL(stored.files?.[0]?.url ?? "", suite.server.origin));
    expect(opened.status).toBe(200);
    await expect(ann.upload(new Blob([new Uint8Array(2000)], { type: "text/plain" }), "big.txt")).rejects.toMatchObject(
      {
        name: "UploadError",
        code: "too_large",
      },
    );
    await expect(ann.upload(new Blob([png(1, 1)], { type: "image/gif" }), "fake.gif")).rejects.toMatchObject({
      code: "unsupported_type",
    });
    ann.close();
  });

  it("rejects a refused change with the room's code", async () => {
    const room = freshRoom("lib");
    const ann = client(suite.server.origin, room, "Ann");
    await ann.connect();
    await expect(ann.edit(99, "nothing there")).rejects.toMatchObject({ name: "ChatError", code: "not_found" });
    ann.close();
  });

  it("marks read: the user's other connection hears it, and the next welcome starts there (§10.1)", async () => {
    const room = freshRoom("lib");
    const token = await hs256({ sub: `lib-${Math.random()}`, name: "Rea" });
    const signedIn = () =>
      new lib.ChatClient({ url: suite.server.origin, room, getToken: async () => token, WebSocket });
    const [one, two] = [signedIn(), signedIn()];
    await one.connect();
    await two.connect();
    const poster = await TestClient.connect(suite.server.wsUrl(room));
    await poster.join("Poster");
    poster.send({ type: "chat", text: "read me" });
    await expect.poll(() => one.messages.length).toBe(1);
    const seq = one.messages[0]?.seq ?? 0;
    const heard: number[] = [];
    two.on("read", ({ seq: moved }) => heard.push(moved));
    one.markRead(seq);
    await expect.poll(() => heard).toEqual([seq]);
    const three = signedIn();
    expect(await three.connect()).toMatchObject({ lastRead: seq, unread: 0 });
    for (const c of [one, two, three]) c.close();
    await poster.close();
  });

  it("rejects connect() with the room's refusal of the join", async () => {
    const room = freshRoom("lib");
    const ann = client(suite.server.origin, room, "Ann");
    await ann.connect();
    await expect(client(suite.server.origin, room, "ann").connect()).rejects.toMatchObject({ code: "name_taken" });
    ann.close();
  });

  it("pages history back and searches, adding older messages to client.messages", async () => {
    const room = freshRoom("lib");
    const poster = await TestClient.connect(suite.server.wsUrl(room));
    await poster.join("Poster");
    for (let i = 1; i <= 120; i++) poster.send({ type: "chat", text: `message ${i}` });
    await poster.sync();
    const ann = client(suite.server.origin, room, "Ann");
    await ann.connect();
    const oldest = ann.messages[0]?.seq ?? 0;
    expect(oldest).toBe(21);
    const page = await ann.history({ before: oldest });
    expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(ann.messages).toHaveLength(120);
    const found = await ann.search("message 7");
    expect(found.results.length).toBeGreaterThan(0);
    const people = await ann.members({ prefix: "po" });
    expect(people.members).toEqual([{ name: "Poster" }]);
    ann.close();
    await poster.close();
  });

  it("closes with 1000: the others hear it leave at once, and it never reconnects", async () => {
    const room = freshRoom("lib");
    const ben = await TestClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    const ann = client(suite.server.origin, room, "Ann");
    await ann.connect();
    await ben.next("joined");
    ann.close();
    expect(await ben.next("left")).toMatchObject({ name: "Ann", count: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(ann.state).toBe("ended");
    expect((await ben.sync()).filter((f) => f.type === "joined")).toEqual([]);
  });
});

describe("edge-chat/client across a server that goes away", () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-chat-lib-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loses and duplicates nothing: every send resolves once, every message is held once, in seq order", async () => {
    const vars = { ...ONE_MACHINE_LOAD, RATE_BURST: 1000, RATE_PER_SEC: 1000 };
    let server = await startChat({ persistDir: dir, vars });
    const port = Number(new URL(server.origin).port);
    const room = freshRoom("lib");
    const ann = client(server.origin, room, "Ann");
    const ben = client(server.origin, room, "Ben");
    await ann.connect();
    await ben.connect();
    const states: string[] = [];
    ann.on("status", ({ state }) => states.push(state));
    const sends: Array<Promise<Library.ChatFrame>> = [];
    try {
      const sending = (async () => {
        for (let i = 0; i < 30; i++) {
          sends.push(ann.send(`ann ${i}`), ben.send(`ben ${i}`));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await new Promise((r) => setTimeout(r, 150));
      await server.stop();
      server = await startChat({ persistDir: dir, port, vars });
      await sending;
      const stored = await Promise.all(sends);
      // The stop really cut the connection mid-stream.
      expect(states).toContain("reconnecting");
      const seqs = stored.map((m) => m.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      for (const c of [ann, ben]) {
        await expect.poll(() => c.messages.length, { timeout: 15_000 }).toBe(60);
        expect(c.messages.map((m) => m.seq)).toEqual(seqs);
        expect(new Set(c.messages.map((m) => m.text)).size).toBe(60);
      }
    } finally {
      ann.close();
      ben.close();
      await server.stop();
    }
  }, 60_000);
});

describe("the README's bot example", () => {
  it("runs as written: joins, answers !ping with a reply, and leaves", async () => {
    const readme = readFileSync("README.md", "utf8");
    const block = /<!-- bot-example -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!block) throw new Error("no bot example in the README");
    // Inside the package, so `edge-chat/client` resolves as it would for a dependent.
    mkdirSync(".vitest", { recursive: true });
    const file = join(".vitest", "readme-bot.mjs");
    writeFileSync(file, block);
    const room = freshRoom("bot");
    const ben = await TestClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    const bot = spawn("node", [file], { env: { ...process.env, CHAT_URL: suite.server.origin, CHAT_ROOM: room } });
    const exited = new Promise<number | null>((resolve) => bot.on("exit", resolve));
    try {
      expect(await ben.next("joined")).toMatchObject({ name: "pingbot" });
      ben.send({ type: "chat", text: "!ping" });
      const ping = await ben.next("chat");
      expect(await ben.next("chat")).toMatchObject({ name: "pingbot", text: "pong", replyTo: ping.seq });
      expect(await ben.next("left")).toMatchObject({ name: "pingbot" });
      expect(await exited).toBe(0);
    } finally {
      bot.kill();
      await ben.close();
    }
  });
});
