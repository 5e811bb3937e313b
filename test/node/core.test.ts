/**
 * The chat core in plain Node, without workerd: the room's rules over
 * in-memory stores and a clock the test moves (test/support/memory-room.ts).
 * The socket-level suites prove the same rules through the runtime; these
 * show the core can be driven, and pin what needs a clock: refills, the
 * join timeout, and a rebuild over the same storage and attachments.
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { EVICTION_IDLE_MS } from "../../src/room/state/budgets";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { MAX_REACTION_EMOJI, MAX_REACTIONS_PER_MESSAGE } from "../../src/shared/protocol";
import { MEMORY_AUTH, MemoryRoom } from "../support/memory-room";

const types = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

describe("the chat core", () => {
  it("welcomes a join, tells the others, and numbers chats for everyone", () => {
    const room = new MemoryRoom();
    const ann = room.open("ann");
    const ben = room.open("ben");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ben, { type: "join", name: "Ben" });
    room.send(ann, { type: "chat", text: "hello" });
    expect(types(room.take(ann))).toEqual(["welcome", "joined", "chat"]);
    expect(room.take(ben)).toMatchObject([
      { type: "welcome", users: ["Ann", "Ben"] },
      { type: "chat", seq: 1 },
    ]);
    expect(room.reported.at(-1)).toBe(2);
  });

  it("keeps the roster, seq and a retry's original across a rebuild over the same storage", () => {
    const room = new MemoryRoom();
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ann, { type: "chat", text: "one", id: "m1" });
    room.take(ann);
    room.rebuild();
    room.send(ann, { type: "chat", text: "one again", id: "m1" });
    room.send(ann, { type: "chat", text: "two" });
    expect(room.take(ann)).toMatchObject([
      { seq: 1, text: "one" },
      { seq: 2, text: "two" },
    ]);
    const ben = room.open("ben");
    room.send(ben, { type: "join", name: "ann" });
    expect(types(room.take(ben))).toEqual(["name_taken"]);
  });

  it("refills a spent bucket at RATE_PER_SEC as the clock moves", () => {
    const room = new MemoryRoom();
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    for (let i = 0; i < 11; i++) room.send(ann, { type: "chat", text: `m${i}` });
    expect(types(room.take(ann)).filter((t) => t === "rate_limited")).toHaveLength(1);
    room.clock += 1000 / DEFAULT_LIMITS.ratePerSec;
    room.send(ann, { type: "chat", text: "after a refill" });
    expect(types(room.take(ann))).toEqual(["chat"]);
  });

  it("writes no attachment per chat while the bucket refills before the room could be evicted", () => {
    const room = new MemoryRoom();
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    const saves = room.saves;
    for (let i = 0; i < 5; i++) room.send(ann, { type: "chat", text: `m${i}` });
    expect(room.saves).toBe(saves);
    // Evicted after EVICTION_IDLE_MS of silence, it wakes with the full bucket it would have had.
    room.clock += EVICTION_IDLE_MS;
    room.rebuild();
    room.take(ann);
    for (let i = 0; i < DEFAULT_LIMITS.rateBurst + 1; i++) room.send(ann, { type: "chat", text: `after ${i}` });
    expect(types(room.take(ann)).filter((t) => t === "rate_limited")).toHaveLength(1);
  });

  it("writes a bucket that refills slower than an eviction to the attachment on every chat", () => {
    // 10 tokens at 0.01/s: 1,000 s to refill, far past the runtime's idle eviction.
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, ratePerSec: 0.01 });
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    for (let i = 0; i < DEFAULT_LIMITS.rateBurst; i++) room.send(ann, { type: "chat", text: `m${i}` });
    room.clock += EVICTION_IDLE_MS;
    room.rebuild();
    room.take(ann);
    room.send(ann, { type: "chat", text: "one too many" });
    expect(types(room.take(ann))).toEqual(["rate_limited"]);
  });

  it("refuses a reaction past MAX_REACTIONS_PER_MESSAGE on one message, and takes one back as always", () => {
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, rateBurst: 100, ratePerSec: 100 });
    const author = room.open("author");
    room.send(author, { type: "join", name: "Author" });
    room.send(author, { type: "chat", text: "popular" });
    const emoji = Array.from({ length: MAX_REACTION_EMOJI }, (_, i) => String.fromCodePoint(0x1f600 + i));
    // 50 members × 20 emoji: the message is full.
    const people = Array.from({ length: MAX_REACTIONS_PER_MESSAGE / MAX_REACTION_EMOJI }, (_, i) => {
      const socket = room.open(`p${i}`, `203.0.113.${i + 2}`);
      room.send(socket, { type: "join", name: `P${i}` });
      for (const e of emoji) room.send(socket, { type: "react", seq: 1, emoji: e });
      return socket;
    });
    const late = room.open("late", "198.51.100.1");
    room.send(late, { type: "join", name: "Late" });
    room.take(late);
    room.send(late, { type: "react", seq: 1, emoji: emoji[0] });
    expect(types(room.take(late))).toEqual(["too_many_reactions"]);
    const first = people[0];
    if (!first) throw new Error("no members");
    room.send(first, { type: "react", seq: 1, emoji: emoji[0] });
    room.send(late, { type: "react", seq: 1, emoji: emoji[0] });
    const updates = room.take(late).filter((f) => f.type === "update");
    expect(updates.map((u) => (u.type === "update" ? u.reactions?.[emoji[0] ?? ""]?.count : undefined))).toEqual([
      49, 50,
    ]);
  });

  it("asks for an alarm at the join deadline and closes a socket that never joined when it rings", () => {
    const room = new MemoryRoom();
    const idle = room.open("idle");
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    expect(room.alarm).toBe(room.clock + DEFAULT_LIMITS.joinTimeoutMs);
    room.clock += DEFAULT_LIMITS.joinTimeoutMs;
    room.core.alarm();
    expect(idle.closed).toEqual({ code: 1008, reason: "join_timeout" });
    expect(ann.closed).toBeUndefined();
  });

  it("hands a name to a new socket with its token: the old one is replaced, nobody else hears a thing", () => {
    const room = new MemoryRoom();
    const old = room.open("old");
    const ben = room.open("ben");
    room.send(old, { type: "join", name: "Ann" });
    room.send(ben, { type: "join", name: "Ben" });
    const token = room.take(old).find((f) => f.type === "welcome")?.token;
    room.take(ben);
    const again = room.open("again");
    room.send(again, { type: "join", name: "Ann", token });
    expect(types(room.take(again))).toEqual(["welcome"]);
    expect(types(room.take(old))).toEqual(["replaced"]);
    expect(old.closed?.code).toBe(4001);
    room.core.closed(old, true);
    expect(room.take(ben)).toEqual([]);
    expect(room.snapshot().users).toEqual(["Ann", "Ben"]);
  });
  it("announces `left` once when a socket errors and then closes, even after its name was taken again", () => {
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, presenceGraceMs: 0 });
    const ann = room.open("ann");
    const ben = room.open("ben");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ben, { type: "join", name: "Ben" });
    room.take(ben);
    room.core.closed(ann, false); // webSocketError
    const again = room.open("again");
    room.send(again, { type: "join", name: "Ann" });
    room.core.closed(ann, false); // then webSocketClose for the same socket
    expect(types(room.take(ben))).toEqual(["left", "joined"]);
    expect(room.snapshot().users).toEqual(["Ben", "Ann"]);
  });

  it("keeps a member who dropped until the grace's alarm rings, across a rebuild, then announces `left`", () => {
    const room = new MemoryRoom();
    const [ann, ben] = [room.open("ann"), room.open("ben")];
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ben, { type: "join", name: "Ben" });
    room.take(ben);
    room.core.closed(ann, false);
    ann.closed = { code: 1006, reason: "" };
    expect(room.alarm).toBe(room.clock + DEFAULT_LIMITS.presenceGraceMs);
    room.rebuild();
    expect(room.snapshot().users).toEqual(["Ann", "Ben"]);
    room.clock += DEFAULT_LIMITS.presenceGraceMs - 1;
    room.core.alarm();
    expect(room.take(ben)).toEqual([]);
    room.clock += 1;
    room.core.alarm();
    expect(room.take(ben)).toMatchObject([{ type: "left", name: "Ann", count: 1 }]);
    expect(room.away.rows.size).toBe(0);
  });

  it("announces `left` at once when PRESENCE_GRACE_MS is 0", () => {
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, presenceGraceMs: 0 });
    const [ann, ben] = [room.open("ann"), room.open("ben")];
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ben, { type: "join", name: "Ben" });
    room.take(ben);
    room.core.closed(ann, false);
    expect(room.take(ben)).toMatchObject([{ type: "left", name: "Ann" }]);
  });

  it("joins a verified user's second socket to the same member, silently", async () => {
    const room = new MemoryRoom();
    const [ben, one, two] = [room.open("ben"), room.open("one"), room.open("two")];
    room.send(ben, { type: "join", name: "Ben" });
    const auth = await memoryToken("u-ann", "Ann");
    await room.send(one, { type: "join", auth });
    await room.send(two, { type: "join", auth });
    expect(types(room.take(ben))).toEqual(["welcome", "joined"]);
    expect(room.take(two)).toMatchObject([{ type: "welcome", user: "u-ann", users: ["Ben", "Ann"] }]);
    room.core.closed(one, true);
    expect(room.take(ben)).toEqual([]);
    room.core.closed(two, true);
    expect(room.take(ben)).toMatchObject([{ type: "left", name: "Ann", user: "u-ann" }]);
  });
});

function memoryToken(sub: string, name: string): Promise<string> {
  return new SignJWT({ sub, name })
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(MEMORY_AUTH.audience)
    .setExpirationTime("1h")
    .sign(MEMORY_AUTH.secret ?? new Uint8Array());
}
