/**
 * Version 3's batched presence (protocol §9.1–§9.3) in the chat core, with
 * a clock the test moves: which frames a version-3 socket gets, when, and
 * what they say, beside version-2 sockets in the same room; and a
 * property: whatever joins, leaves and kicks happen in whatever rhythm, the
 * roster a version-3 observer rebuilds from its welcome and its `presence`
 * frames is the room's. The socket-level suite (presence-v3.test.ts) proves
 * the same through the runtime.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { moderate } from "../../src/room/features/moderation";
import { DEFAULT_LIMITS, type Limits } from "../../src/shared/limits";
import { applyPresence, presenceKey } from "../../src/shared/presence";
import type { MemberEntry, ServerFrame, ServerFrameOf } from "../../src/shared/server-frames";
import { type FakeSocket, MEMORY_SECRET, MemoryRoom } from "../support/memory-room";
import { hs256 } from "../support/tokens";

const signIn = (sub: string, name: string) => hs256({ sub, name }, MEMORY_SECRET);

const BATCH = DEFAULT_LIMITS.presenceBatchMs;
const OCCUPANCY = DEFAULT_LIMITS.occupancyIntervalMs;

type Presence = ServerFrameOf<"presence">;
const presences = (frames: ServerFrame[]) => frames.filter((f): f is Presence => f.type === "presence");
const names = (members: readonly MemberEntry[]) => members.map((m) => m.name);

function join(room: MemoryRoom, name: string, protocol?: number): FakeSocket {
  const socket = room.open(name);
  room.send(socket, { type: "join", name, ...(protocol === undefined ? {} : { protocol }) });
  return socket;
}

function welcomeOf(frames: ServerFrame[]): ServerFrameOf<"welcome"> {
  const welcome = frames.find((f) => f.type === "welcome");
  if (welcome?.type !== "welcome") throw new Error("no welcome");
  return welcome;
}

describe("version-3 welcome (§9.2)", () => {
  it("carries count and members, and no users array", () => {
    const room = new MemoryRoom();
    join(room, "Ann");
    const ben = join(room, "Ben", 3);
    const welcome = welcomeOf(room.take(ben));
    expect(welcome).toMatchObject({ count: 2, members: [{ name: "Ann" }, { name: "Ben" }] });
    expect(welcome).not.toHaveProperty("users");
    expect(welcome).not.toHaveProperty("large");
  });

  it("keeps version 2's welcome and joined/left for a socket that did not opt in", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann");
    expect(welcomeOf(room.take(ann))).toMatchObject({ users: ["Ann"], members: [{ name: "Ann" }] });
    join(room, "Ben", 3);
    expect(room.take(ann)).toMatchObject([{ type: "joined", name: "Ben", count: 2 }]);
  });
});

describe("batched presence (§9.2)", () => {
  it("sends the first change at once and never `joined` or `left` to a version-3 socket", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    room.take(ann);
    join(room, "Ben");
    expect(room.take(ann)).toEqual([
      { type: "presence", room: room.room, joined: [{ name: "Ben" }], left: [], count: 2, ts: room.clock },
    ]);
  });

  it("holds later changes until PRESENCE_BATCH_MS has passed, then sends them in one frame", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    join(room, "Ben");
    room.take(ann);
    room.advance(10);
    join(room, "Cy");
    room.advance(10);
    join(room, "Di");
    expect(presences(room.take(ann))).toEqual([]);
    room.advance(BATCH - 21);
    expect(presences(room.take(ann))).toEqual([]);
    room.advance(1);
    expect(presences(room.take(ann))).toMatchObject([{ joined: [{ name: "Cy" }, { name: "Di" }], left: [], count: 4 }]);
  });

  it("leaves out a member who joined and left again within one batch", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    join(room, "Ben");
    room.take(ann);
    const cy = join(room, "Cy");
    room.send(cy, { type: "leave" });
    join(room, "Di");
    room.advance(BATCH);
    expect(presences(room.take(ann))).toMatchObject([{ joined: [{ name: "Di" }], left: [], count: 3 }]);
  });

  it("leaves out a member who left and came back within one batch", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    const ben = join(room, "Ben");
    join(room, "Cy");
    room.advance(BATCH);
    room.take(ann);
    room.send(ben, { type: "leave" });
    room.send(ben, { type: "join", name: "Ben" });
    join(room, "Di");
    room.advance(BATCH);
    expect(presences(room.take(ann))).toMatchObject([{ joined: [{ name: "Di" }], left: [] }]);
  });

  it("never tells a socket of its own join, and tells it of changes after its welcome", () => {
    const room = new MemoryRoom();
    join(room, "Ann", 3);
    join(room, "Ben");
    room.advance(10);
    const cy = join(room, "Cy", 3);
    expect(welcomeOf(room.take(cy)).members?.map((m) => m.name)).toEqual(["Ann", "Ben", "Cy"]);
    join(room, "Di");
    room.advance(BATCH);
    expect(presences(room.take(cy))).toMatchObject([{ joined: [{ name: "Di" }], left: [], count: 4 }]);
  });

  it("treats a second socket of a verified user and a guest's reclaim as no change", async () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    const ben = join(room, "Ben");
    const token = welcomeOf(room.take(ben)).token;
    const tabs = [room.open("ada-1"), room.open("ada-2")];
    for (const tab of tabs) await room.send(tab, { type: "join", auth: await signIn("u-ada", "Ada") });
    room.advance(BATCH);
    expect(presences(room.take(ann)).flatMap((f) => names(f.joined))).toEqual(["Ben", "Ada"]);
    const again = room.open("ben-again");
    room.send(again, { type: "join", name: "Ben", token });
    if (tabs[1]) room.core.closed(tabs[1], true);
    room.advance(BATCH * 4);
    expect(room.take(again).map((f) => f.type)).toEqual(["welcome"]);
    expect(presences(room.take(ann))).toEqual([]);
  });

  it("treats a return within the presence grace as no change", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    const ben = join(room, "Ben");
    const token = welcomeOf(room.take(ben)).token;
    room.take(ann);
    room.core.closed(ben, false);
    room.advance(DEFAULT_LIMITS.presenceGraceMs / 2);
    const back = room.open("ben-back");
    room.send(back, { type: "join", name: "Ben", token });
    expect(welcomeOf(room.take(back)).name).toBe("Ben");
    room.advance(DEFAULT_LIMITS.presenceGraceMs * 2);
    expect(presences(room.take(ann))).toEqual([]);
  });

  it("tells a guest replaced by a verified user of the same name as a `left` and a `joined`", async () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    join(room, "Ben");
    room.advance(BATCH);
    room.take(ann);
    room.advance(BATCH);
    await room.send(room.open("real-ben"), { type: "join", auth: await signIn("u-ben", "Ben") });
    room.advance(BATCH);
    const frames = presences(room.take(ann));
    expect(frames.flatMap((f) => f.left)).toEqual([{ name: "Ben" }]);
    expect(frames.flatMap((f) => f.joined)).toEqual([{ name: "Ben", user: "u-ben" }]);
    expect(frames.reduce(applyPresence, [{ name: "Ann" }, { name: "Ben" }])).toEqual([
      { name: "Ann" },
      { name: "Ben", user: "u-ben" },
    ]);
  });

  it("gives a kicked member's `left` entry its reason", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    join(room, "Ben");
    room.advance(BATCH);
    room.take(ann);
    moderate(room.core, { name: "system", role: "admin" }, { type: "kick", name: "Ben" });
    expect(presences(room.take(ann))).toMatchObject([{ left: [{ name: "Ben", reason: "kicked" }], count: 1 }]);
  });

  it("stores a batch nobody received with finite numbers only, as JSON keeps them", () => {
    const room = new MemoryRoom();
    join(room, "Ann", 3);
    // Ann's own join was a batch for nobody: it keeps the previous batch's time.
    expect(room.presence.tick).toEqual({ n: 1, through: 1, at: 0, count: 1, large: false });
  });

  it("delivers a batch that was pending when the room was evicted", () => {
    const room = new MemoryRoom();
    const ann = join(room, "Ann", 3);
    join(room, "Ben");
    room.take(ann);
    join(room, "Cy");
    room.rebuild();
    room.advance(BATCH);
    expect(presences(room.take(ann))).toMatchObject([{ joined: [{ name: "Cy" }], count: 3 }]);
  });
});

describe("large rooms (§9.3)", () => {
  const limits: Limits = { ...DEFAULT_LIMITS, rosterLimit: 3 };

  function largeRoom() {
    const room = new MemoryRoom(limits);
    const ann = join(room, "Ann", 3);
    const old = join(room, "Old");
    for (const name of ["Ben", "Cy"]) join(room, name);
    room.advance(OCCUPANCY);
    return { room, ann, old };
  }

  it("welcomes a version-3 socket into a large room with count and `large`, and no roster", () => {
    const { room } = largeRoom();
    const di = join(room, "Di", 3);
    const welcome = welcomeOf(room.take(di));
    expect(welcome).toMatchObject({ count: 5, large: true });
    expect(welcome).not.toHaveProperty("members");
  });

  it("tells each version-3 socket once, with `large: true`, when the room becomes large", () => {
    const room = new MemoryRoom(limits);
    const ann = join(room, "Ann", 3);
    for (const name of ["Ben", "Cy"]) join(room, name);
    room.advance(BATCH);
    room.take(ann);
    join(room, "Di");
    join(room, "Ed");
    room.advance(BATCH);
    expect(presences(room.take(ann))).toEqual([
      { type: "presence", room: room.room, joined: [], left: [], count: 5, large: true, ts: room.clock },
    ]);
    join(room, "Flo");
    room.advance(OCCUPANCY);
    expect(presences(room.take(ann))).toMatchObject([{ joined: [], left: [], count: 6 }]);
    expect(presences(room.take(ann)).some((f) => "large" in f)).toBe(false);
  });

  it("sends counts at most once per OCCUPANCY_INTERVAL_MS, and only when the count changed", () => {
    const { room, ann } = largeRoom();
    room.take(ann);
    const seen: Array<[number, number]> = [];
    for (let i = 0; i < 20; i++) {
      join(room, `Guest${i}`);
      room.advance(OCCUPANCY / 8);
      for (const f of presences(room.take(ann))) seen.push([room.clock, f.count]);
    }
    room.advance(OCCUPANCY);
    expect(presences(room.take(ann)).map((f) => f.count)).toEqual([24]);
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) {
      expect((seen[i]?.[0] ?? 0) - (seen[i - 1]?.[0] ?? 0)).toBeGreaterThanOrEqual(OCCUPANCY);
    }
    const cy = room.sockets.find((s) => s.name === "Cy");
    if (cy) room.send(cy, { type: "leave" });
    join(room, "Late");
    room.advance(OCCUPANCY * 2);
    expect(presences(room.take(ann))).toEqual([]);
  });

  it("relays no typing to version-3 sockets in a large room, and still to version-2 sockets", () => {
    const { room, ann, old } = largeRoom();
    room.take(ann);
    room.take(old);
    const ben = room.sockets.find((s) => s.name === "Ben");
    if (ben) room.send(ben, { type: "typing" });
    expect(room.take(ann)).toEqual([]);
    expect(room.take(old)).toMatchObject([{ type: "typing", name: "Ben" }]);
  });

  it("tells each version-3 socket once, with `large: false` and the whole roster, when the room is small again", () => {
    const { room, ann } = largeRoom();
    const di = join(room, "Di", 3);
    room.advance(OCCUPANCY);
    room.take(ann);
    room.take(di);
    for (const name of ["Ben", "Cy"]) {
      const socket = room.sockets.find((s) => s.name === name);
      if (socket) room.send(socket, { type: "leave" });
    }
    room.advance(OCCUPANCY);
    const expected = {
      joined: [],
      left: [],
      count: 3,
      large: false,
      members: [{ name: "Ann" }, { name: "Old" }, { name: "Di" }],
    };
    expect(presences(room.take(ann))).toMatchObject([expected]);
    expect(presences(room.take(di))).toMatchObject([expected]);
    const old = room.sockets.find((s) => s.name === "Old");
    if (old) room.send(old, { type: "leave" });
    room.advance(BATCH);
    const after = presences(room.take(ann));
    expect(after).toMatchObject([{ left: [{ name: "Old" }], count: 2 }]);
    expect(after[0]).not.toHaveProperty("large");
  });
});

describe("a version-3 observer's roster (property)", () => {
  type Step =
    | { kind: "join"; who: number; v3: boolean }
    | { kind: "leave"; who: number }
    | { kind: "kick"; who: number }
    | { kind: "drop"; who: number }
    | { kind: "wait"; ms: number }
    | { kind: "evict" };
  const people = 8;
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant("join" as const), who: fc.nat(people - 1), v3: fc.boolean() }),
    fc.record({ kind: fc.constant("leave" as const), who: fc.nat(people - 1) }),
    fc.record({ kind: fc.constant("kick" as const), who: fc.nat(people - 1) }),
    fc.record({ kind: fc.constant("drop" as const), who: fc.nat(people - 1) }),
    fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ kind: fc.constant("evict" as const) }),
  );

  /**
   * Applies a frame as a receiver would, checking it holds only net
   * changes: nobody joins who is already there, nobody leaves who is not.
   */
  function apply(roster: MemberEntry[], frame: Presence): MemberEntry[] {
    if (frame.members === undefined) {
      const here = new Set(roster.map(presenceKey));
      const left = new Set(frame.left.map(presenceKey));
      for (const who of frame.left) expect(here.has(presenceKey(who)), `left: ${who.name}`).toBe(true);
      for (const who of frame.joined) {
        const key = presenceKey(who);
        expect(here.has(key) && !left.has(key), `joined: ${who.name}`).toBe(false);
      }
    }
    return applyPresence(roster, frame);
  }

  it("equals the room's roster at the end, whatever the joins, leaves, kicks and batch windows", () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.nat(60),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 2, max: 6 }),
        (steps, observerJoinsAt, batch, rosterLimit) => {
          const limits = { ...DEFAULT_LIMITS, presenceBatchMs: batch, occupancyIntervalMs: batch * 4, rosterLimit };
          const room = new MemoryRoom(limits);
          let observer: FakeSocket | undefined;
          let roster: MemberEntry[] = [];
          let large = false;
          const sockets = new Map<number, FakeSocket>();
          const hear = (frames: Presence[]) => {
            for (const frame of frames) {
              if (frame.large !== undefined) large = frame.large;
              roster = apply(roster, frame);
            }
          };
          const observe = () => {
            observer = join(room, "Observer", 3);
            const welcome = welcomeOf(room.take(observer));
            roster = welcome.members ?? [];
            large = welcome.large === true;
          };
          steps.forEach((s, i) => {
            if (i === observerJoinsAt) observe();
            const socket = "who" in s ? sockets.get(s.who) : undefined;
            if (s.kind === "join" && !socket) sockets.set(s.who, join(room, `P${s.who}`, s.v3 ? 3 : undefined));
            else if (s.kind === "leave" && socket) room.send(socket, { type: "leave" });
            else if (s.kind === "kick" && socket)
              moderate(room.core, { name: "system", role: "admin" }, { type: "kick", name: `P${s.who}` });
            else if (s.kind === "drop" && socket) room.core.closed(socket, false);
            else if (s.kind === "wait") room.advance(s.ms);
            else if (s.kind === "evict") room.rebuild();
            if ("who" in s && s.kind !== "join") sockets.delete(s.who);
            if (observer) hear(presences(room.take(observer)));
          });
          if (!observer) observe();
          if (!observer) throw new Error("no observer");
          room.advance(limits.occupancyIntervalMs + limits.presenceGraceMs);
          const last = presences(room.take(observer));
          hear(last);
          const count = last.at(-1)?.count ?? -1;
          const real = [...room.core.members.all()].map((m) => m.member.name);
          expect(large).toBe(real.length > rosterLimit);
          if (!large) expect(names(roster).sort()).toEqual([...real].sort());
          if (count !== -1) expect(count).toBe(real.length);
          expect(new Set(roster.map(presenceKey)).size).toBe(roster.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
