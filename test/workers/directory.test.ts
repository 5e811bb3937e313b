/**
 * The room directory (itty-durable) and how rooms report to it. The bound
 * and the coalescing are checked here, inside workerd, where a room can be
 * built over real state with a DIRECTORY binding that counts its calls.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DIRECTORY_LIMIT, openDirectory } from "../../src/directory/directory";
import { ChatRoom } from "../../src/room/chat-room";
import { connectMany, until } from "./fixtures";

/** The DIRECTORY binding with every call to the object counted (or failed). */
function countingDirectory(fail = false) {
  const real = env.DIRECTORY;
  const calls = { started: 0, settled: 0 };
  const namespace = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => ({
      fetch: async (request: Request) => {
        calls.started++;
        try {
          if (fail) throw new Error("directory unreachable");
          return await real.get(id).fetch(request);
        } finally {
          calls.settled++;
        }
      },
    }),
  };
  return { calls, namespace: namespace as unknown as Env["DIRECTORY"] };
}

describe("the directory", () => {
  it("lists rooms by most users, then by name, and drops a room reported empty", async () => {
    const directory = openDirectory(env.DIRECTORY);
    await directory.report("order-b", 7000);
    await directory.report("order-a", 7000);
    await directory.report("order-c", 7001);
    await directory.report("order-gone", 7002);
    await directory.report("order-gone", 0);
    const top = (await directory.list()).slice(0, 3);
    expect(top).toEqual([
      { room: "order-c", users: 7001 },
      { room: "order-a", users: 7000 },
      { room: "order-b", users: 7000 },
    ]);
  });

  // Filling the directory is a thousand sequential calls: seconds, not milliseconds.
  it(`keeps the ${DIRECTORY_LIMIT} busiest rooms when a ${DIRECTORY_LIMIT + 1}st reports`, {
    timeout: 60_000,
  }, async () => {
    const directory = openDirectory(env.DIRECTORY);
    for (let i = 0; i < DIRECTORY_LIMIT; i++) await directory.report(`fill-${i}`, 10 + i);
    // Smaller than every room held: it is the one left out.
    await directory.report("one-too-many", 5);
    let rooms = await directory.list();
    expect(rooms).toHaveLength(DIRECTORY_LIMIT);
    expect(rooms.some((r) => r.room === "one-too-many")).toBe(false);

    // Bigger than the smallest: it gets in, and the smallest goes.
    await directory.report("newcomer", 5000);
    rooms = await directory.list();
    expect(rooms).toHaveLength(DIRECTORY_LIMIT);
    expect(rooms.find((r) => r.room === "newcomer")).toEqual({ room: "newcomer", users: 5000 });
    expect(rooms.some((r) => r.room === "fill-0")).toBe(false);
    // What stays is still the busiest, in list order (earlier tests' rooms share this directory).
    const counts = rooms.map((r) => r.users);
    expect(counts).toEqual(counts.toSorted((a, b) => b - a));
    expect(rooms.at(-1)?.users).toBeGreaterThan(10);
  });

  it("keeps established rooms when a flood of rooms with names that sort first arrives", {
    timeout: 60_000,
  }, async () => {
    // Names that sort first once won every tie at the cap, so a flood of
    // small rooms pushed established ones out.
    // Bigger than anything earlier tests left, so the held rooms fill the directory.
    const users = 1_000_000;
    const directory = openDirectory(env.DIRECTORY);
    for (let i = 0; i < DIRECTORY_LIMIT; i++) await directory.report(`held-${i}`, users);
    for (let i = 0; i < 50; i++) await directory.report(`0000-spam-${i}`, users);
    const rooms = await directory.list();
    expect(rooms).toHaveLength(DIRECTORY_LIMIT);
    expect(rooms.filter((r) => r.room.startsWith("0000-spam-"))).toEqual([]);
    expect(rooms.filter((r) => r.room.startsWith("held-"))).toHaveLength(DIRECTORY_LIMIT);
    // Later tests share this directory: give the space back.
    for (let i = 0; i < DIRECTORY_LIMIT; i++) await directory.report(`held-${i}`, 0);
  });

  it("corrects a room's stale count the next time the room's object starts", async () => {
    // A restart cuts sockets without close events, so the directory can hold
    // users for a room that has none; its object reports on construction.
    const room = "stale-after-restart";
    const [client] = await connectMany(room, 1);
    client?.ws.send(JSON.stringify({ type: "join", name: "Ann" }));
    await until(() => client?.frames.some((f) => f.type === "welcome"), "the welcome");
    client?.ws.send(JSON.stringify({ type: "leave" }));
    const directory = openDirectory(env.DIRECTORY);
    await until(async () => !(await directory.list()).some((r) => r.room === room), "the leave's report");
    await directory.report(room, 12); // what a cut-off room leaves behind
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_live, state) => {
      new ChatRoom(state, env);
    });
    await until(async () => !(await directory.list()).some((r) => r.room === room), "the correction");
  });

  it("is not called when a room nobody ever joined is read", async () => {
    const { calls, namespace } = countingDirectory();
    const res = await exports.default.fetch("http://chat.test/api/rooms/never-joined-read");
    await res.text();
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName("never-joined-read")), async (_live, state) => {
      new ChatRoom(state, { ...env, DIRECTORY: namespace });
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(calls.started).toBe(0);
  });

  it("refuses a report that is not a room name and a non-negative integer", async () => {
    const directory = openDirectory(env.DIRECTORY);
    await expect(directory.report("bad-count", -1)).rejects.toThrow();
    await expect(directory.report("bad-count", 1.5)).rejects.toThrow();
    expect((await directory.list()).some((r) => r.room === "bad-count")).toBe(false);
  });
});

describe("a room's reports to the directory", () => {
  it("coalesce: 300 joins cost a handful of calls, and the last one carries 300", { timeout: 60_000 }, async () => {
    const room = "storm-300";
    const clients = await connectMany(room, 300);
    const { calls, namespace } = countingDirectory();
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      // 300 joins from one address: the per-address join budget is lifted.
      const counted = new ChatRoom(state, { ...env, DIRECTORY: namespace, JOINS_PER_MINUTE: 1_000 });
      const sockets = state.getWebSockets();
      expect(sockets).toHaveLength(300);
      for (const [i, ws] of sockets.entries()) {
        await counted.webSocketMessage(ws, JSON.stringify({ type: "join", name: `user-${i}` }));
      }
      await until(() => calls.started > 0 && calls.settled === calls.started, "reports to settle");
    });
    expect(calls.started).toBeGreaterThanOrEqual(1);
    expect(calls.started).toBeLessThanOrEqual(3);
    const listed = (await openDirectory(env.DIRECTORY).list()).find((r) => r.room === room);
    expect(listed).toEqual({ room, users: 300 });
    expect(clients.every((c) => c.frames.some((f) => f.type === "welcome"))).toBe(true);
  });

  it("never reach the client when the directory fails: joins are welcomed all the same", async () => {
    const room = "directory-down";
    const [client] = await connectMany(room, 1);
    const { calls, namespace } = countingDirectory(true);
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      const counted = new ChatRoom(state, { ...env, DIRECTORY: namespace });
      const [ws] = state.getWebSockets();
      if (!ws) throw new Error("socket lost");
      await counted.webSocketMessage(ws, JSON.stringify({ type: "join", name: "Ann" }));
      await until(() => calls.settled === 1, "the failed report");
      await counted.webSocketMessage(ws, JSON.stringify({ type: "chat", text: "still here" }));
    });
    const frames = client?.frames ?? [];
    await until(() => frames.some((f) => f.type === "chat"), "the chat");
    expect(frames.map((f) => f.type)).toEqual(["welcome", "chat"]);
  });
});
