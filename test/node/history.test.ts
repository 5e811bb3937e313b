/**
 * Protocol §8.2 (`history`) over real sockets: a ring of 5, so nearly every
 * page comes from beyond it; `before`, `after` and neither; `more` exact at
 * both ends; messages in their latest state; delete beyond the ring; and
 * every refusal the section names.
 */
import { describe, expect, it } from "vitest";
import type { ChatFrame } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const suite = chatSuite({
  vars: {
    HISTORY_LIMIT: 5,
    RATE_BURST: 100_000,
    ADDRESS_RATE_BURST: 100_000,
    READS_PER_MINUTE: 1000,
  },
});

const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

/** Ann alone in a fresh room, after sending `n` messages "m1".."mn" (seq 1..n). */
async function roomWith(n: number): Promise<{ room: string; ann: ChatClient }> {
  const room = freshRoom("history");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  await ann.join("Ann");
  for (let i = 1; i <= n; i++) ann.send({ type: "chat", text: `m${i}` });
  await ann.sync();
  return { room, ann };
}

/** Sends one `history` frame and returns its answer (or the error). */
async function page(client: ChatClient, frame: Record<string, unknown>) {
  client.send({ type: "history", ...frame });
  const [answer] = await client.sync();
  return answer;
}

describe("history (§8.2)", () => {
  it("pages back through 2,000 messages with a ring of 5, seeing every message exactly once", async () => {
    const { ann } = await roomWith(2000);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const answer = await page(ann, before === undefined ? { limit: 100 } : { before, limit: 100 });
      if (answer?.type !== "history") throw new Error(`no page: ${JSON.stringify(answer)}`);
      const seqs = answer.messages.map((m) => m.seq);
      // Oldest first within a page.
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      seen.unshift(...seqs);
      if (!answer.more) break;
      before = seqs[0];
    }
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    await ann.close();
  });

  it("pages forward with `after` from 0 to the live end, every message exactly once", async () => {
    const { ann } = await roomWith(2000);
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const answer = await page(ann, { after, limit: 100 });
      if (answer?.type !== "history") throw new Error(`no page: ${JSON.stringify(answer)}`);
      seen.push(...answer.messages.map((m) => m.seq));
      const last = answer.messages.at(-1);
      if (!answer.more || !last) break;
      after = last.seq;
    }
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    await ann.close();
  });

  it("says `more` exactly: false when the page ends at the first message, true one message earlier", async () => {
    const { ann } = await roomWith(11);
    expect(await page(ann, { limit: 11 })).toMatchObject({ type: "history", more: false });
    expect(await page(ann, { limit: 10 })).toMatchObject({ type: "history", more: true });
    expect(await page(ann, { before: 2, limit: 1 })).toMatchObject({ more: false, messages: [{ seq: 1 }] });
    expect(await page(ann, { after: 10, limit: 1 })).toMatchObject({ more: false, messages: [{ seq: 11 }] });
    expect(await page(ann, { after: 9, limit: 1 })).toMatchObject({ more: true, messages: [{ seq: 10 }] });
    await ann.close();
  });

  it("answers the newest 50 by default, oldest first, to the asking socket only", async () => {
    const { room, ann } = await roomWith(60);
    const ben = await ChatClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    await ann.sync();
    const answer = await page(ann, {});
    expect(answer?.type === "history" ? answer.messages.map((m) => m.seq) : []).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 11),
    );
    expect(answer).toMatchObject({ type: "history", room, more: true });
    expect(await ben.sync()).toEqual([]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("returns messages beyond the ring in their latest state: edited, reacted, and deleted as tombstones", async () => {
    const { ann } = await roomWith(3);
    ann.send({ type: "edit", seq: 1, text: "m1, fixed" });
    ann.send({ type: "react", seq: 2, emoji: "👍" });
    ann.send({ type: "delete", seq: 3 });
    for (let i = 0; i < 10; i++) ann.send({ type: "chat", text: `later ${i}` });
    await ann.sync();
    const answer = await page(ann, { before: 4 });
    const messages: ChatFrame[] = answer?.type === "history" ? answer.messages : [];
    expect(messages).toMatchObject([
      { seq: 1, v: 4, text: "m1, fixed", edited: expect.any(Number) },
      { seq: 2, v: 5, reactions: { "👍": { count: 1, names: ["Ann"] } } },
      { seq: 3, v: 6, text: "", deleted: true },
    ]);
    await ann.close();
  });

  it("deletes a message that has left the ring, and everyone gets the update", async () => {
    const { room, ann } = await roomWith(10);
    const ben = await ChatClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    await ann.sync();
    ann.send({ type: "delete", seq: 2 });
    expect(await ben.next("update")).toMatchObject({ seq: 11, target: 2, deleted: true });
    await ann.next("update");
    expect(await page(ann, { before: 3, limit: 1 })).toMatchObject({ messages: [{ seq: 2, deleted: true, text: "" }] });
    // Edit and react keep version 2's rule: the ring only.
    ann.send({ type: "edit", seq: 1, text: "too late" });
    ann.send({ type: "react", seq: 1, emoji: "👍" });
    expect(codes(await ann.sync())).toEqual(["not_found", "not_found"]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("refuses both cursors, a limit out of range, and cursors of the wrong type with bad_message", async () => {
    const { ann } = await roomWith(3);
    for (const frame of [
      { before: 3, after: 1 },
      { limit: 0 },
      { limit: 101 },
      { before: 0 },
      { after: -1 },
      { before: "3" },
      { limit: 2.5 },
    ]) {
      expect(codes([(await page(ann, frame)) ?? { type: "none" }])).toEqual(["bad_message"]);
    }
    expect(codes([(await page(ann, { limit: 100 })) ?? { type: "none" }])).toEqual(["history"]);
    await ann.close();
  });

  it("refuses history from a socket that has not joined with not_joined", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    expect(codes([(await page(c, {})) ?? { type: "none" }])).toEqual(["not_joined"]);
    await c.close();
  });
});
