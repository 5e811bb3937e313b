/**
 * Protocol §9.1–§9.3 over real sockets: version-2 and version-3 sockets in
 * one room, each getting its own frames; a storm of joins reaching a
 * version-3 observer in few frames that name every joiner once; a room
 * crossing ROSTER_LIMIT both ways. What is counted is what each socket
 * receives. The core suite (presence-batches.test.ts) pins the timing
 * with a clock it moves, and holds the property over random sequences.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyPresence } from "../../src/shared/presence";
import type { MemberEntry, ServerFrame, ServerFrameOf } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const BATCH_MS = 300;
const ROSTER_LIMIT = 4;
const OCCUPANCY_MS = 900;
const suite = chatSuite({
  vars: { PRESENCE_BATCH_MS: BATCH_MS, ROSTER_LIMIT, OCCUPANCY_INTERVAL_MS: OCCUPANCY_MS, PRESENCE_GRACE_MS: 0 },
});
/** Default ROSTER_LIMIT: rooms here stay small. */
const storm = chatSuite({ vars: { PRESENCE_BATCH_MS: BATCH_MS, JOINS_PER_MINUTE: 1000, PRESENCE_GRACE_MS: 0 } });

type Presence = ServerFrameOf<"presence">;
const presences = (frames: ServerFrame[]) => frames.filter((f): f is Presence => f.type === "presence");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function member(room: string, name: string, protocol?: 3, on = suite.server): Promise<ChatClient> {
  const c = await ChatClient.connect(on.wsUrl(room));
  await c.join(name, protocol === undefined ? {} : { protocol });
  return c;
}

/** Everything that arrives until nothing has for a batch interval and a half. */
async function settle(c: ChatClient, quietMs = BATCH_MS * 1.5): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  for (;;) {
    await sleep(quietMs);
    const more = await c.sync();
    frames.push(...more);
    if (more.length === 0) return frames;
  }
}

describe("version 2 and version 3 side by side (§9.1, §9.2)", () => {
  it("gives a version-3 socket a welcome with count and members, and no users", async () => {
    const room = freshRoom("v3");
    await member(room, "Ann");
    const ben = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await ben.join("Ben", { protocol: 3 });
    expect(welcome).toMatchObject({ count: 2, members: [{ name: "Ann" }, { name: "Ben" }] });
    expect(welcome).not.toHaveProperty("users");
  });

  it("tells a version-2 socket `joined` and `left` and a version-3 socket `presence`, for the same changes", async () => {
    const room = freshRoom("v3");
    const two = await member(room, "Two");
    const three = await member(room, "Three", 3);
    await two.sync();
    const cy = await member(room, "Cy");
    await cy.close();
    expect((await settle(two)).map((f) => f.type)).toEqual(["joined", "left"]);
    const heard = await settle(three);
    expect(heard.every((f) => f.type === "presence")).toBe(true);
    // Cy came and went: at most the join went out at once, and the net of all is nothing.
    expect(presences(heard).reduce(applyPresence, [{ name: "Two" }, { name: "Three" }])).toEqual([
      { name: "Two" },
      { name: "Three" },
    ]);
  });

  it("never tells a version-3 socket of its own join", async () => {
    const room = freshRoom("v3");
    const ann = await member(room, "Ann", 3);
    expect(await settle(ann)).toEqual([]);
  });
});

describe("a storm of joins (§9.2)", () => {
  it("reaches a version-3 observer in a few batches, at least PRESENCE_BATCH_MS apart, that name every joiner once", async () => {
    const room = freshRoom("storm");
    const observer = await member(room, "Observer", 3, storm.server);
    const names = Array.from({ length: 40 }, (_, i) => `j${i}`);
    const started = Date.now();
    await Promise.all(names.map((n) => member(room, n, undefined, storm.server)));
    const elapsed = Date.now() - started;
    const frames = presences(await settle(observer));
    expect(frames.flatMap((f) => f.joined.map((m) => m.name)).sort()).toEqual([...names].sort());
    expect(frames.flatMap((f) => f.left)).toEqual([]);
    // One frame per batch interval at most: far fewer than one per join.
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(elapsed / BATCH_MS) + 2);
    for (let i = 1; i < frames.length; i++) {
      expect((frames[i]?.ts ?? 0) - (frames[i - 1]?.ts ?? 0)).toBeGreaterThanOrEqual(BATCH_MS);
    }
    expect(frames.at(-1)?.count).toBe(names.length + 1);
  });
});

describe("large rooms (§9.3)", () => {
  it("crosses ROSTER_LIMIT both ways with one flagged frame each, counts in between, and no typing", async () => {
    const room = freshRoom("large");
    const three = await member(room, "Three", 3);
    const two = await member(room, "Two");
    const others = [await member(room, "A"), await member(room, "B")];
    await settle(three);
    await two.sync();
    others.push(await member(room, "C"));
    const up = presences(await settle(three));
    expect(up).toEqual([expect.objectContaining({ large: true, count: 5, joined: [], left: [] })]);
    // A version-3 welcome into the large room has no roster.
    const late = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await late.join("Late", { protocol: 3 });
    expect(welcome).toMatchObject({ count: 6, large: true });
    expect(welcome).not.toHaveProperty("members");
    others.push(late);
    // Typing reaches the version-2 socket only.
    others[0]?.send({ type: "typing" });
    await sleep(100);
    expect((await two.sync()).filter((f) => f.type === "typing")).toHaveLength(1);
    // Counts only, not repeating the flag.
    const heard = await settle(three, OCCUPANCY_MS * 1.5);
    expect(heard.filter((f) => f.type === "typing")).toEqual([]);
    const counted = presences(heard);
    expect(counted).toEqual([{ type: "presence", room, joined: [], left: [], count: 6, ts: expect.any(Number) }]);
    // Down again: one frame with the whole roster, the receiver included.
    for (const c of others.splice(0, 3)) await c.close();
    // Counts may come before the crossing while the room is still large, and
    // names after it; the flag comes once, with the whole roster.
    for (const c of [three, late]) {
      const frames = presences(await settle(c, OCCUPANCY_MS * 1.5));
      const flagged = frames.filter((f) => "large" in f);
      expect(flagged).toEqual([expect.objectContaining({ large: false, members: expect.any(Array) })]);
      expect(flagged[0]?.members?.map((m) => m.name)).toEqual(expect.arrayContaining(["Three", "Two", "Late"]));
      const after = frames.slice(frames.indexOf(flagged[0] as Presence));
      expect(after.reduce(applyPresence, [])).toEqual([{ name: "Three" }, { name: "Two" }, { name: "Late" }]);
      expect(after.at(-1)?.count).toBe(3);
    }
  });
});

describe("a version-3 observer's roster over real sockets (property)", () => {
  it("equals the room's roster after any sequence of joins, leaves and drops", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ who: fc.nat(5), act: fc.constantFrom("join", "leave", "drop"), pause: fc.nat(BATCH_MS) }),
          { maxLength: 12 },
        ),
        async (steps) => {
          const room = freshRoom("prop");
          const observer = await ChatClient.connect(storm.server.wsUrl(room));
          let roster: MemberEntry[] = (await observer.join("Observer", { protocol: 3 })).members ?? [];
          const here = new Map<number, ChatClient>();
          for (const { who, act, pause } of steps) {
            const c = here.get(who);
            if (act === "join" && !c) here.set(who, await member(room, `P${who}`, undefined, storm.server));
            else if (act === "leave" && c) c.send({ type: "leave" });
            else if (act === "drop" && c) c.terminate();
            if (act !== "join") here.delete(who);
            await sleep(pause);
          }
          for (const c of here.values()) await c.sync();
          for (const frame of presences(await settle(observer))) roster = applyPresence(roster, frame);
          observer.send({ type: "members", limit: 200 });
          const page = await observer.next("members");
          expect(roster.map((m) => m.name).sort()).toEqual(page.members.map((m) => m.name).sort());
          for (const c of here.values()) await c.close();
          await observer.close();
        },
      ),
      { numRuns: 6 },
    );
  });
});
