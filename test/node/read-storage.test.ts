/**
 * §8.4 ("reads never write"): reading a room over HTTP must not create storage.
 * Each GET of a never-used room once created the ring's table, leaving a
 * ~12 KB SQLite database per name anyone looked up (6,000 reads, 112 MB).
 *
 * Locally, workerd opens a database file for every SQLite-backed object it
 * instantiates, written or not: one empty 4 KB page with no table, and an
 * empty write-ahead log. That file is the runtime's, not ours, so this test
 * runs the worker with storage in a directory and checks that every file a
 * read left behind is exactly that: no page beyond the first, nothing in
 * the log. Creating any table on a read path fails it. It does not measure
 * memory; an object that only answered a read is evicted like any other.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const dir = mkdtempSync(join(tmpdir(), "edge-chat-reads-"));
// Hooks run last-registered first: the directory goes after the server has stopped.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const suite = chatSuite({ persistDir: dir, vars: { SEARCHES_PER_MINUTE: 1000 } });

/** Every file under the storage directory, recursively. */
function storedFiles(): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

it("creates no table and writes no row when rooms that were never used are read over HTTP", async () => {
  // One room that exists, so the storage layout (and its directory) is there.
  const real = freshRoom();
  const ann = await ChatClient.connect(suite.server.wsUrl(real));
  await ann.join("Ann");
  ann.send({ type: "chat", text: "hello" });
  await ann.next("chat");
  await ann.close();
  const before = storedFiles();

  for (let i = 0; i < 40; i++) {
    const room = freshRoom("never");
    for (const path of [
      `/api/rooms/${room}`,
      `/api/rooms/${room}/messages?since=0`,
      `/api/rooms/${room}/messages?before=5`,
      `/api/rooms/${room}/search?q=hello`,
    ]) {
      const res = await suite.server.http(path);
      expect(res.status).toBe(200);
      await res.json();
    }
  }
  // Rooms only: a search spends the address's budget in its own guard object (§8.4), which is not a room.
  const added = storedFiles().filter((f) => !before.includes(f) && f.includes("ChatRoom"));
  const databases = added.filter((f) => f.endsWith(".sqlite"));
  expect(databases.length).toBeGreaterThanOrEqual(40);
  const written = databases
    .map((f) => ({ file: f, bytes: statSync(f).size, log: sizeOr0(`${f}-wal`) }))
    .filter(({ bytes, log }) => bytes > EMPTY_DATABASE_BYTES || log > 0);
  expect(written).toEqual([]);
});

/** The runtime's own empty database: one SQLite page. */
const EMPTY_DATABASE_BYTES = 4096;

function sizeOr0(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

it("still answers a read of a never-used room with an empty room", async () => {
  const room = freshRoom("never");
  const res = await suite.server.http(`/api/rooms/${room}`);
  expect(await res.json()).toEqual({ room, users: [], seq: 0, history: 0 });
});
