/**
 * Protocol §7 as a property (fast-check), inside workerd: random
 * interleavings of chats, replies, edits, deletes and reactions from three
 * people, with a ring small enough to overflow. A live observer folds every
 * frame it receives into its view of the room; afterwards a fresh join, and
 * a join with a random `since`, must each rebuild exactly that view: every
 * message in its latest state, each once, ordered by seq, with `gap` right.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChatRoom } from "../../src/room/chat-room";
import { parseServerFrame, type StoredChat } from "../../src/shared/server-frames";
import { applyUpdate } from "../../src/shared/updates";
import { connectMany, record } from "./fixtures";

const HISTORY_LIMIT = 6;
const EMOJI = ["👍", "🎉", "😮"];

type Op =
  | { kind: "chat"; actor: number; replyTo?: number }
  | { kind: "edit" | "delete"; actor: number; pick: number }
  | { kind: "react"; actor: number; pick: number; emoji: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("chat" as const), actor: fc.nat(2) }),
  fc.record({ kind: fc.constant("chat" as const), actor: fc.nat(2), replyTo: fc.nat(40) }),
  fc.record({ kind: fc.constantFrom("edit" as const, "delete" as const), actor: fc.nat(2), pick: fc.nat(40) }),
  fc.record({
    kind: fc.constant("react" as const),
    actor: fc.nat(2),
    pick: fc.nat(40),
    emoji: fc.constantFrom(...EMOJI),
  }),
);

type Message = StoredChat;

/** What a live client does with the frames it receives: the protocol's own fold (src/shared/updates.ts). */
function fold(view: Map<number, Message>, text: string): void {
  const frame = parseServerFrame(text);
  if (frame?.type === "chat") {
    const { type: _t, ...message } = frame;
    view.set(frame.seq, message);
  } else if (frame?.type === "update") {
    const message = view.get(frame.target);
    if (message) view.set(frame.target, applyUpdate(message, frame));
  }
}

describe("the message lifecycle", () => {
  it("lets a fresh join and a `since` join rebuild exactly what a live observer folded from the frames", async () => {
    await connectMany("prop-lifecycle", 5);
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName("prop-lifecycle")), async (_live, state) => {
      const [a, b, c, observer, spare] = state.getWebSockets();
      if (!a || !b || !c || !observer || !spare) throw new Error("sockets lost");
      // Everything the room sends the observer and the late joiner, as it is sent.
      const sent = { observer: record(observer).sent, spare: record(spare).sent };
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), fc.nat(80), async (ops, sinceSeed) => {
          // Each run starts from empty storage, with a new room object over it.
          round++;
          await state.storage.deleteAll();
          const room = new ChatRoom(state, {
            ...env,
            HISTORY_LIMIT,
            RATE_BURST: 1_000_000,
            RATE_PER_SEC: 1_000_000,
            JOINS_PER_MINUTE: 1_000_000,
            ADDRESS_RATE_BURST: 1_000_000,
            ADDRESS_RATE_PER_SEC: 1_000_000,
          });
          const people = [a, b, c];
          for (const [i, ws] of [...people, observer].entries()) {
            await room.webSocketMessage(ws, JSON.stringify({ type: "leave" }));
            await room.webSocketMessage(ws, JSON.stringify({ type: "join", name: `p${round}-${i}` }));
          }
          sent.observer.length = 0;
          const view = new Map<number, Message>();
          for (const o of ops) {
            const ws = people[o.actor] ?? a;
            const known = [...view.keys()];
            const target = (pick: number) => known[pick % Math.max(1, known.length)] ?? 1;
            const frame =
              o.kind === "chat"
                ? {
                    type: "chat",
                    text: `m${round}`,
                    ...(o.replyTo !== undefined ? { replyTo: target(o.replyTo) } : {}),
                  }
                : o.kind === "react"
                  ? { type: "react", seq: target(o.pick), emoji: o.emoji }
                  : o.kind === "edit"
                    ? { type: "edit", seq: target(o.pick), text: `edited ${o.pick}` }
                    : { type: "delete", seq: target(o.pick) };
            await room.webSocketMessage(ws, JSON.stringify(frame));
            for (const text of sent.observer.splice(0)) fold(view, text);
          }
          // The ring keeps the newest HISTORY_LIMIT messages (by seq) of everything the observer saw.
          const all = [...view.values()].sort((x, y) => x.seq - y.seq);
          const ring = all.slice(-HISTORY_LIMIT);
          const newestGone = all.at(-HISTORY_LIMIT - 1)?.seq ?? 0;
          const welcomeOf = async (since?: number) => {
            sent.spare.length = 0;
            await room.webSocketMessage(spare, JSON.stringify({ type: "leave" }));
            await room.webSocketMessage(spare, JSON.stringify({ type: "join", name: `late${round}`, since }));
            const welcome = sent.spare.map(parseServerFrame).find((f) => f?.type === "welcome");
            if (welcome?.type !== "welcome") throw new Error("no welcome");
            return welcome;
          };
          const strip = (m: Record<string, unknown>) => {
            const { type: _t, ...rest } = m;
            return rest;
          };
          const fresh = await welcomeOf();
          expect(fresh.history.map(strip)).toEqual(ring);
          // A resume from a random earlier point.
          const lastSeq = Math.max(0, ...all.map((m) => m.v));
          const since = sinceSeed % (lastSeq + 1);
          const resumed = await welcomeOf(since);
          expect(resumed.history.map(strip)).toEqual(ring.filter((m) => m.v > since));
          expect(resumed.gap).toBe(since < newestGone);
          expect(resumed.seq).toBe(fresh.seq);
        }),
        { numRuns: 60 },
      );
    });
  }, 60_000);
});
