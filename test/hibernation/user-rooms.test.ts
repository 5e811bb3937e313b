/**
 * Real hibernation of §10.3's objects: a user's object and the gate holding
 * their `/me` socket are evicted after about 10 s idle (local workerd), and
 * the list and the live socket work as before. The user object's "loaded N
 * rooms" log line, printed by a constructor that finds a kept list, proves
 * it was built again.
 */
import { expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const IDLE_MS = 13_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const suite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET } });
const loads = () => suite.server.logs.filter((line) => line.includes("user object: loaded 2 rooms")).length;

it("keeps a user's rooms and their /me socket across a real eviction", async () => {
  const bob = await hs256({ sub: `hib-${Math.random()}`, name: "Bob" });
  const rooms = [freshRoom("me-hib"), freshRoom("me-hib")];
  for (const room of rooms) {
    const c = await ChatClient.connect(suite.server.wsUrl(room));
    await c.signIn(bob, { protocol: 3 });
    await c.close();
  }
  const me = await ChatClient.connect(`${suite.server.origin.replace(/^http/, "ws")}/me`);
  me.send({ type: "auth", auth: bob });
  expect((await me.next("rooms")).rooms).toHaveLength(2);
  const loadsBefore = loads();

  await sleep(IDLE_MS);

  const ann = await ChatClient.connect(suite.server.wsUrl(rooms[1] ?? ""));
  await ann.join("Ann");
  ann.send({ type: "chat", text: "@Bob wake up" });
  expect(await me.next("mention", 2000)).toMatchObject({ room: rooms[1], text: "@Bob wake up" });
  expect(loads()).toBeGreaterThan(loadsBefore);

  const res = await suite.server.http("/api/me/rooms", { headers: { Authorization: `Bearer ${bob}` } });
  const body = (await res.json()) as { rooms: Array<{ room: string; unread: number; mentions: number }> };
  expect(body.rooms.map((r) => r.room)).toEqual([rooms[1], rooms[0]]);
  expect(body.rooms[0]).toMatchObject({ unread: 1, mentions: 1 });
});
