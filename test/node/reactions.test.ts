/**
 * Reactions against a hostile crowd (§7.2–§7.3, version 3), on the chat core
 * in Node: the frames a reaction costs everyone, the welcome history a huge
 * reaction list must not empty, emoji that are Object.prototype's keys, and
 * direction controls in an emoji. The sizes are bytes of JSON, measured.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { MAX_REACTION_EMOJI, MAX_REACTIONS_PER_MESSAGE, REACTION_NAMES } from "../../src/shared/protocol";
import type { ServerFrame } from "../../src/shared/server-frames";
import { utf8Length } from "../../src/shared/text";
import { type FakeSocket, MemoryRoom } from "../support/memory-room";

const GENEROUS = {
  ...DEFAULT_LIMITS,
  rateBurst: 10_000,
  ratePerSec: 10_000,
  addressRateBurst: 100_000,
  addressRatePerSec: 100_000,
  joinsPerMinute: 10_000,
};
const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);
const bytes = (frame: ServerFrame) => utf8Length(JSON.stringify(frame));

/** 32 four-byte characters, different for each i. */
const longName = (i: number) => String.fromCodePoint(...Array.from({ length: 32 }, (_, j) => 0x20000 + i * 32 + j));
/** 8 four-byte code points, different for each i. */
const longEmoji = (i: number) => String.fromCodePoint(...Array.from({ length: 8 }, (_, j) => 0x1f300 + i * 8 + j));

/** A room whose message 61 carries 1,000 reactions: 50 long names × 20 long emoji, after 60 ordinary messages. */
function crowdedRoom(): { room: MemoryRoom; author: FakeSocket; crowd: FakeSocket[] } {
  const room = new MemoryRoom(GENEROUS);
  const author = room.open("author");
  room.send(author, { type: "join", name: "Author" });
  for (let i = 0; i < 60; i++) room.send(author, { type: "chat", text: `message ${i}` });
  room.send(author, { type: "chat", text: "react to me" });
  const crowd = Array.from({ length: MAX_REACTIONS_PER_MESSAGE / MAX_REACTION_EMOJI }, (_, i) => {
    const socket = room.open(`p${i}`, `203.0.113.${i + 2}`);
    room.send(socket, { type: "join", name: longName(i) });
    for (let e = 0; e < MAX_REACTION_EMOJI; e++) room.send(socket, { type: "react", seq: 61, emoji: longEmoji(e) });
    return socket;
  });
  for (const s of [author, ...crowd]) room.take(s);
  return { room, author, crowd };
}

describe("reaction amplification (§7.3, version 3)", () => {
  it("names at most 10 reactors per emoji in a summary, with the count of all", () => {
    const { room, crowd } = crowdedRoom();
    const watcher = room.open("watcher", "198.51.100.9");
    room.send(watcher, { type: "join", name: "Watcher" });
    const welcome = room.take(watcher)[0];
    const message = welcome?.type === "welcome" ? welcome.history.find((m) => m.seq === 61) : undefined;
    const first = message?.reactions?.[longEmoji(0)];
    expect([REACTION_NAMES, first?.count, first?.names.length]).toEqual([10, crowd.length, 10]);
  });

  it("sends a version-2 socket a bounded summary and a version-3 socket only the one change", () => {
    const { room, crowd } = crowdedRoom();
    const v2 = room.open("v2", "198.51.100.2");
    const v3 = room.open("v3", "198.51.100.3");
    room.send(v2, { type: "join", name: "Two" });
    room.send(v3, { type: "join", name: "Three", protocol: 3 });
    room.take(v2);
    room.take(v3);
    const toggler = crowd[0];
    if (!toggler) throw new Error("no crowd");
    room.send(toggler, { type: "react", seq: 61, emoji: longEmoji(0) });
    const [old] = room.take(v2);
    const [change] = room.take(v3);
    // 20 emoji × (10 names of 128 bytes + the emoji): well under 32 KB, where 50 names made 132 KB.
    expect(old && bytes(old)).toBeLessThan(32 * 1024);
    expect(old).toMatchObject({ type: "update", target: 61 });
    expect(change && bytes(change)).toBeLessThan(512);
    expect(change).toMatchObject({
      type: "update",
      target: 61,
      reaction: { emoji: longEmoji(0), name: longName(0), added: false, count: crowd.length - 1 },
    });
    expect(change && "reactions" in change).toBe(false);
  });

  it("still gives a newcomer the room's history, the crowded message included", () => {
    const { room } = crowdedRoom();
    const late = room.open("late", "198.51.100.4");
    room.send(late, { type: "join", name: "Late" });
    const welcome = room.take(late)[0];
    const seqs = welcome?.type === "welcome" ? welcome.history.map((m) => m.seq) : [];
    expect(seqs).toHaveLength(61);
    expect(seqs.at(-1)).toBe(61);
  });

  it("never empties a welcome's history, even when its newest message alone is over the byte budget", () => {
    const room = new MemoryRoom({ ...GENEROUS, welcomeHistoryBytes: 100 });
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ann, { type: "chat", text: "short" });
    room.send(ann, { type: "chat", text: "x".repeat(500) });
    const late = room.open("late");
    room.send(late, { type: "join", name: "Late" });
    expect(room.take(late)).toMatchObject([{ type: "welcome", gap: true, history: [{ seq: 2 }] }]);
  });
});

describe("emoji are ordinary keys (§7.2)", () => {
  it("takes toString and valueOf as emoji like any other (constructor and __proto__ are too long for one)", () => {
    const room = new MemoryRoom(GENEROUS);
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ann, { type: "chat", text: "keys" });
    const keys = ["toString", "valueOf", "👍", "__proto_", "🎉"];
    for (const emoji of keys) room.send(ann, { type: "react", seq: 1, emoji });
    const frames = room.take(ann);
    expect(codes(frames)).toEqual(["welcome", "chat", "update", "update", "update", "update", "update"]);
    const last = frames.at(-1);
    expect(last?.type === "update" ? Object.keys(last.reactions ?? {}) : []).toEqual(keys);
    // Taken back like any other, and the stored form survives a rebuild.
    room.send(ann, { type: "react", seq: 1, emoji: "__proto_" });
    room.rebuild();
    const late = room.open("late");
    room.send(late, { type: "join", name: "Late" });
    const welcome = room.take(late)[0];
    const stored = welcome?.type === "welcome" ? welcome.history[0]?.reactions : undefined;
    expect(Object.keys(stored ?? {})).toEqual(keys.filter((k) => k !== "__proto_"));
  });

  it("takes toString, valueOf, constructor and __proto__ as names, found by dm and moderation", async () => {
    const room = new MemoryRoom(GENEROUS);
    const names = ["toString", "valueOf", "constructor", "__proto__", "hasOwnProperty"];
    const sockets = names.map((name, i) => {
      const socket = room.open(name, `203.0.113.${i + 2}`);
      room.send(socket, { type: "join", name });
      return socket;
    });
    const [first] = sockets;
    if (!first) throw new Error("no sockets");
    for (const name of names) room.send(first, { type: "dm", to: name, text: `hi ${name}` });
    room.send(first, { type: "chat", text: "__proto__" });
    expect(room.snapshot().users).toEqual(names);
    const answers = room.take(first).filter((f) => f.type === "dm" || f.type === "error");
    expect(answers.map((f) => (f.type === "dm" ? f.to : f.type))).toEqual(names);
  });

  it("refuses direction controls in an emoji with bad_message, and stores nothing", () => {
    const room = new MemoryRoom(GENEROUS);
    const ann = room.open("ann");
    room.send(ann, { type: "join", name: "Ann" });
    room.send(ann, { type: "chat", text: "flip" });
    room.take(ann);
    for (const control of ["\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069"]) {
      room.send(ann, { type: "react", seq: 1, emoji: `evil${control}1` });
    }
    expect(codes(room.take(ann))).toEqual(Array(6).fill("bad_message"));
    expect(room.snapshot().seq).toBe(1);
  });
});
