/**
 * Private rooms over HTTP (protocol §5.2): never listed, and their §4 read
 * routes answer 404 unless the request carries the API token or an
 * identity token covering the room. Also GET /api/config, which tells the
 * browser client how to sign in.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const API_TOKEN = "test-api-token-0123456789-abcdefghij";
const RoomList = v.object({ rooms: v.array(v.object({ room: v.string(), users: v.number() })) });

const suite = chatSuite({
  vars: { API_TOKEN, AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ENDPOINT: "/auth/chat-token", API_FAILURES_PER_MINUTE: 3 },
});

/** A private room with one member and one message. */
async function privateRoom(): Promise<string> {
  const room = freshRoom("private-team");
  const c = await ChatClient.connect(suite.server.wsUrl(room));
  await c.signIn(await hs256({ sub: "u1", name: "Ann", rooms: ["private-team*"] }));
  c.send({ type: "chat", text: "team only" });
  await c.next("chat");
  return room;
}

async function read(path: string, bearer?: string, from = "192.0.2.10") {
  const headers: Record<string, string> = { "CF-Connecting-IP": from };
  if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;
  const res = await suite.server.http(path, { headers });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("private rooms over HTTP (§5.2)", () => {
  it("answers 404 not_found for a private room's reads without a bearer", async () => {
    const room = await privateRoom();
    expect(await read(`/api/rooms/${room}`)).toMatchObject({ status: 404, body: { error: "not_found" } });
    expect(await read(`/api/rooms/${room}/messages`)).toMatchObject({ status: 404, body: { error: "not_found" } });
  });

  it("reads a private room with the API token", async () => {
    const room = await privateRoom();
    expect(await read(`/api/rooms/${room}`, API_TOKEN)).toMatchObject({
      status: 200,
      body: { room, users: ["Ann"], seq: 1 },
    });
  });

  it("reads a private room with an identity token that covers it, and not with one that does not", async () => {
    const room = await privateRoom();
    const covering = await hs256({ sub: "u2", rooms: [room] });
    const plain = await hs256({ sub: "u2" });
    const { status, body } = await read(`/api/rooms/${room}/messages`, covering);
    expect(status).toBe(200);
    expect(body).toMatchObject({ messages: [{ text: "team only", user: "u1" }] });
    expect((await read(`/api/rooms/${room}`, plain, "192.0.2.11")).status).toBe(404);
  });

  it("never lists a private room, and still lists and reads other rooms for anyone", async () => {
    const room = await privateRoom();
    const open = freshRoom("open");
    const guest = await ChatClient.connect(suite.server.wsUrl(open));
    await guest.join("Gus");
    const list = v.parse(RoomList, (await read("/api/rooms")).body).rooms.map((r) => r.room);
    expect(list).toContain(open);
    expect(list).not.toContain(room);
    expect((await read(`/api/rooms/${open}`)).status).toBe(200);
  });

  it("throttles wrong bearers on private reads like wrong API tokens (429 after API_FAILURES_PER_MINUTE)", async () => {
    const room = await privateRoom();
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await read(`/api/rooms/${room}`, `guess-${i}`, "192.0.2.77")).status);
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
    // The right token is refused too while the address is throttled: a guess cannot be confirmed.
    expect((await read(`/api/rooms/${room}`, API_TOKEN, "192.0.2.77")).status).toBe(429);
  });

  it("answers a valid identity token that does not cover the room with 404, without spending the address's guard", async () => {
    const room = await privateRoom();
    const plain = await hs256({ sub: "u-colleague" });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await read(`/api/rooms/${room}`, plain, "192.0.2.88")).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 404]);
    // The admin behind the same address still reads with the API token.
    expect((await read(`/api/rooms/${room}`, API_TOKEN, "192.0.2.88")).status).toBe(200);
  });
});

describe("GET /api/config", () => {
  it("tells the browser client the access mode and the host site's token endpoint", async () => {
    expect(await read("/api/config")).toEqual({
      status: 200,
      body: { access: "open", authEndpoint: "/auth/chat-token", uploads: null },
    });
  });
});
