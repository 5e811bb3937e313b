/**
 * §10.2's mention rule as a pure function (src/shared/mentions.ts), and
 * what the room core does with it: the cap of 20, one note per message
 * and user, and the cursor a user's own chat moves. The real-socket suite
 * is reads.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countsFor } from "../../src/room/features/reads";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { findMentions, foldName, MAX_MENTIONS, mentionSpans } from "../../src/shared/mentions";
import type { MemberEntry } from "../../src/shared/server-frames";
import { MEMORY_SECRET, MemoryRoom } from "../support/memory-room";
import { hs256 } from "../support/tokens";

const MAX = 32;
function lookupOf(names: string[]): (folded: string) => MemberEntry | undefined {
  const map = new Map(names.map((name) => [foldName(name), { name }]));
  return (folded) => map.get(folded);
}

describe("the mention rule (§10.2)", () => {
  it("ends a name at the end of the text or at a character that is not a letter or digit", () => {
    const lookup = lookupOf(["Ann"]);
    expect(findMentions("@Ann", lookup, MAX)).toEqual([{ name: "Ann" }]);
    expect(findMentions("@Ann, hi", lookup, MAX)).toEqual([{ name: "Ann" }]);
    expect(findMentions("@Anna", lookup, MAX)).toEqual([]);
    expect(findMentions("@Ann7", lookup, MAX)).toEqual([]);
    expect(findMentions("@Annä", lookup, MAX)).toEqual([]);
  });

  it("prefers the longest name at an @", () => {
    expect(findMentions("@ann lee!", lookupOf(["Ann", "Ann Lee"]), MAX)).toEqual([{ name: "Ann Lee" }]);
    expect(findMentions("@ann leet", lookupOf(["Ann", "Ann Lee"]), MAX)).toEqual([{ name: "Ann" }]);
  });

  it("names each user once, in order of first appearance, at most 20", () => {
    const names = Array.from({ length: 30 }, (_, i) => `n${i}`);
    const text = names.map((n) => `@${n} @${names[0]}`).join(" ");
    const found = findMentions(text, lookupOf(names), MAX);
    expect(found).toHaveLength(MAX_MENTIONS);
    expect(found.map((m) => m.name)).toEqual(names.slice(0, MAX_MENTIONS));
  });

  it("finds every name written as @name followed by a space, whatever the case (property)", () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ]{0,10}[A-Za-z0-9]$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { selector: foldName, minLength: 1, maxLength: 5 }), (names) => {
        // Names that extend one another are the longest-name rule's case, tested above.
        fc.pre(names.every((a) => names.every((b) => a === b || !foldName(b).startsWith(foldName(a)))));
        const text = names.map((n) => `x @${n.toUpperCase()} y`).join(" ");
        const found = findMentions(text, lookupOf(names), MAX).map((m) => m.name);
        expect(found).toEqual(names);
        expect(
          mentionSpans(
            text,
            found.map((n) => ({ name: n })),
            MAX,
          ).map((s) => text.slice(s.start + 1, s.end)),
        ).toEqual(names.map((n) => n.toUpperCase()));
      }),
    );
  });
});

describe("mentions in the room core", () => {
  it("tells each mentioned verified user's object once per message, not the author", async () => {
    const room = new MemoryRoom();
    const bob = await hs256({ sub: "bob", name: "Bob" }, MEMORY_SECRET);
    const b = room.open("b");
    await room.send(b, { type: "join", auth: bob, protocol: 3 });
    const ann = room.open("ann");
    await room.send(ann, { type: "join", name: "Ann", protocol: 3 });
    room.notes.length = 0;
    await room.send(ann, { type: "chat", text: "@Bob @bob @Ann" });
    expect(room.notes.map((n) => [n.user, n.note.kind])).toEqual([["bob", "mention"]]);
    const seq = room.core.history.latestSeq;
    await room.send(ann, { type: "edit", seq, text: "@Bob again" });
    expect(room.notes).toHaveLength(1);
    await room.send(b, { type: "chat", text: "I am @Bob" });
    expect(room.notes).toHaveLength(1);
  });

  it("counts only retained messages as unread: an expired one leaves the counts (§8.1, §10.2)", async () => {
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, historyRetentionMs: 60_000 });
    const bob = await hs256({ sub: "bob", name: "Bob" }, MEMORY_SECRET);
    const b = room.open("b");
    await room.send(b, { type: "join", auth: bob, protocol: 3 });
    await room.send(b, { type: "leave" });
    const ann = room.open("ann");
    await room.send(ann, { type: "join", name: "Ann" });
    await room.send(ann, { type: "chat", text: "@Bob soon gone" });
    expect(countsFor(room.core, "bob")).toMatchObject({ unread: 1, mentions: 1 });
    room.advance(61_000);
    expect(countsFor(room.core, "bob")).toMatchObject({ unread: 0, mentions: 0 });
  });
});
