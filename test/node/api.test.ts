/**
 * Protocol §4, the HTTP API's read routes, against the bundled worker on
 * Miniflare: the room list, a room, its messages, and every error path.
 * Publishing, CORS and the token are test/node/api-publish.test.ts.
 * HISTORY_LIMIT is 5 here so the ring's cap is reachable in a few posts.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const TOKEN = "test-api-token-0123456789-abcdefghij";
const HISTORY_LIMIT = 5;

/** The shapes of the answers tests read into, validated rather than cast. */
const RoomList = v.object({ rooms: v.array(v.object({ room: v.string(), users: v.number() })) });
const MessageList = v.object({ messages: v.array(v.object({ seq: v.number() })) });

const suite = chatSuite({ vars: { API_TOKEN: TOKEN, HISTORY_LIMIT, MAX_FRAME_BYTES: 4096 } });

async function getJson(path: string, init?: RequestInit): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await suite.server.http(path, init);
  const body: unknown = await res.json();
  return { status: res.status, body, res };
}

async function joined(room: string, name: string): Promise<ChatClient> {
  const client = await ChatClient.connect(suite.server.wsUrl(room));
  await client.join(name);
  return client;
}

async function listedCount(room: string): Promise<number | undefined> {
  const { body } = await getJson("/api/rooms");
  return v.parse(RoomList, body).rooms.find((r) => r.room === room)?.users;
}

describe("GET /health", () => {
  it("answers 200 {ok:true}", async () => {
    expect(await getJson("/health")).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("answers other methods with 405 and an Allow header", async () => {
    const { status, body, res } = await getJson("/health", { method: "POST" });
    expect(status).toBe(405);
    expect(body).toMatchObject({ error: "method_not_allowed" });
    expect(res.headers.get("Allow")).toBe("GET");
  });
});

describe("GET /api/rooms", () => {
  it("lists rooms with joined users, most users first, then by name", async () => {
    const prefix = freshRoom("list");
    const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    const clients = [
      await joined(b, "x"),
      await joined(a, "x"),
      await joined(c, "x"),
      await joined(c, "y"),
      await ChatClient.connect(suite.server.wsUrl(`${prefix}-nobody`)),
    ];
    await Promise.all(clients.map((cl) => cl.sync()));
    const { status, body } = await getJson("/api/rooms");
    expect(status).toBe(200);
    const ours = v.parse(RoomList, body).rooms.filter((r) => r.room.startsWith(prefix));
    expect(ours).toEqual([
      { room: c, users: 2 },
      { room: a, users: 1 },
      { room: b, users: 1 },
    ]);
    await Promise.all(clients.map((cl) => cl.close()));
  });

  it("follows a join, a leave and a close within one round trip", async () => {
    const room = freshRoom("count");
    const ann = await joined(room, "Ann");
    expect(await listedCount(room)).toBe(1);
    const ben = await joined(room, "Ben");
    expect(await listedCount(room)).toBe(2);
    ben.send({ type: "leave" });
    await ben.sync();
    expect(await listedCount(room)).toBe(1);
    await ann.close();
    await ben.sync(); // the close has reached the room once Ben's round trip returns
    expect(await listedCount(room)).toBeUndefined();
    await ben.close();
  });

  it("answers POST with 405", async () => {
    expect(await getJson("/api/rooms", { method: "POST" })).toMatchObject({
      status: 405,
      body: { error: "method_not_allowed" },
    });
  });
});

describe("GET /api/rooms/:room", () => {
  it("answers the roster, the latest seq and how many messages the ring holds", async () => {
    const room = freshRoom();
    const ann = await joined(room, "Ann");
    const ben = await joined(room, "Ben");
    for (let i = 1; i <= HISTORY_LIMIT + 2; i++) ann.send({ type: "chat", text: `m${i}` });
    await ann.sync();
    const { status, body } = await getJson(`/api/rooms/${room}`);
    expect(status).toBe(200);
    expect(body).toEqual({ room, users: ["Ann", "Ben"], seq: HISTORY_LIMIT + 2, history: HISTORY_LIMIT });
    await Promise.all([ann.close(), ben.close()]);
  });

  it("answers an empty room with no users, seq 0 and no history", async () => {
    const room = freshRoom();
    expect(await getJson(`/api/rooms/${room}`)).toMatchObject({
      status: 200,
      body: { room, users: [], seq: 0, history: 0 },
    });
  });

  it("refuses an invalid room name with 400 invalid_room", async () => {
    expect(await getJson("/api/rooms/-bad")).toMatchObject({ status: 400, body: { error: "invalid_room" } });
  });

  it("answers DELETE with 405", async () => {
    expect(await getJson(`/api/rooms/${freshRoom()}`, { method: "DELETE" })).toMatchObject({ status: 405 });
  });
});

describe("GET /api/rooms/:room/messages", () => {
  async function roomWithMessages(n: number): Promise<string> {
    const room = freshRoom();
    const ann = await joined(room, "Ann");
    for (let i = 1; i <= n; i++) ann.send({ type: "chat", text: `m${i}` });
    await ann.sync();
    await ann.close();
    return room;
  }

  const seqs = (body: unknown) => v.parse(MessageList, body).messages.map((m) => m.seq);

  it("answers the ring's chat objects, oldest first", async () => {
    const room = await roomWithMessages(3);
    const { status, body } = await getJson(`/api/rooms/${room}/messages`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      room,
      messages: [
        { type: "chat", room, seq: 1, name: "Ann", text: "m1" },
        { type: "chat", room, seq: 2, name: "Ann", text: "m2" },
        { type: "chat", room, seq: 3, name: "Ann", text: "m3" },
      ],
    });
  });

  it("answers only messages with seq > since, at most limit, from the oldest", async () => {
    const room = await roomWithMessages(5);
    expect(seqs((await getJson(`/api/rooms/${room}/messages?since=2`)).body)).toEqual([3, 4, 5]);
    expect(seqs((await getJson(`/api/rooms/${room}/messages?since=1&limit=2`)).body)).toEqual([2, 3]);
    expect(seqs((await getJson(`/api/rooms/${room}/messages?since=5`)).body)).toEqual([]);
  });

  it("caps limit at HISTORY_LIMIT, which is also the default", async () => {
    const room = await roomWithMessages(HISTORY_LIMIT + 3);
    expect(seqs((await getJson(`/api/rooms/${room}/messages?limit=1000`)).body)).toEqual([4, 5, 6, 7, 8]);
    expect(seqs((await getJson(`/api/rooms/${room}/messages`)).body)).toEqual([4, 5, 6, 7, 8]);
  });

  it.each(["since=-1", "since=abc", "since=1.5", "since=", "limit=0", "limit=x", "limit=2e3"])(
    "refuses %s with 400 bad_query",
    async (query) => {
      const { status, body } = await getJson(`/api/rooms/${freshRoom()}/messages?${query}`);
      expect(status).toBe(400);
      expect(body).toMatchObject({ error: "bad_query" });
    },
  );

  it("refuses an invalid room name with 400 invalid_room", async () => {
    expect(await getJson("/api/rooms/a%20b/messages")).toMatchObject({ status: 400, body: { error: "invalid_room" } });
  });
});

describe("the rest of /api", () => {
  it.each(["/api", "/api/", "/api/nope", "/api/rooms/a/b/c"])("answers %s with 404 JSON", async (path) => {
    expect(await getJson(path)).toMatchObject({ status: 404, body: { error: "not_found" } });
  });
});
