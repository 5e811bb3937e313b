/**
 * Protocol §8.3 (`search`) and READS_PER_MINUTE over real sockets: word
 * prefixes without case or diacritics, every word must match, newest first
 * with `before` paging, only current text (edits, deletes, dms), and any
 * string a client sends as a query is a result or `bad_message`, never an
 * internal error (a fast-check property).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const TOKEN = "search-test-api-token-of-at-least-32-chars";
const suite = chatSuite({
  vars: {
    HISTORY_LIMIT: 3,
    RATE_BURST: 100_000,
    ADDRESS_RATE_BURST: 100_000,
    READS_PER_MINUTE: 10_000,
    API_TOKEN: TOKEN,
  },
});

const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

async function roomWith(texts: string[]): Promise<{ room: string; ann: ChatClient }> {
  const room = freshRoom("search");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  await ann.join("Ann");
  for (const text of texts) ann.send({ type: "chat", text });
  await ann.sync();
  return { room, ann };
}

async function search(client: ChatClient, q: string, extra: Record<string, unknown> = {}) {
  client.send({ type: "search", q, ...extra });
  const [answer] = await client.sync();
  return answer;
}

async function found(client: ChatClient, q: string): Promise<number[]> {
  const answer = await search(client, q);
  if (answer?.type !== "search") throw new Error(`no results: ${JSON.stringify(answer)}`);
  return answer.results.map((m) => m.seq);
}

describe("search (§8.3)", () => {
  it("finds word prefixes regardless of case and diacritics, newest first", async () => {
    const { room, ann } = await roomWith(["Meet at the Café", "cafeteria is closed", "the caffeine talk", "nothing"]);
    expect(await found(ann, "cafe")).toEqual([2, 1]);
    expect(await found(ann, "CAF")).toEqual([3, 2, 1]);
    expect(await found(ann, "café")).toEqual([2, 1]);
    expect(await search(ann, "cafe")).toMatchObject({ type: "search", room, q: "cafe", more: false });
    await ann.close();
  });

  it("needs every word of the query, each as the start of some word", async () => {
    const { ann } = await roomWith(["that link Ann posted", "Ann said hello", "a link without her", "annex link"]);
    expect(await found(ann, "ann link")).toEqual([4, 1]);
    expect(await found(ann, "nn")).toEqual([]);
    await ann.close();
  });

  it("pages with `before`, newest first, and says when older matches remain", async () => {
    const { ann } = await roomWith(Array.from({ length: 7 }, (_, i) => `report ${i + 1}`));
    const first = await search(ann, "report", { limit: 3 });
    expect(first).toMatchObject({ more: true, results: [{ seq: 7 }, { seq: 6 }, { seq: 5 }] });
    const second = await search(ann, "report", { limit: 3, before: 5 });
    expect(second).toMatchObject({ more: true, results: [{ seq: 4 }, { seq: 3 }, { seq: 2 }] });
    expect(await search(ann, "report", { limit: 3, before: 2 })).toMatchObject({ more: false, results: [{ seq: 1 }] });
    await ann.close();
  });

  it("finds an edited message by its new text only, and a deleted one never", async () => {
    const { ann } = await roomWith(["old wording here", "regret this", "filler", "filler", "filler"]);
    // Both are beyond the ring of 3 by now: the index still follows them.
    ann.send({ type: "edit", seq: 5, text: "new wording" });
    ann.send({ type: "delete", seq: 2 });
    await ann.sync();
    expect(await found(ann, "wording")).toEqual([5, 1]);
    expect(await found(ann, "filler")).toEqual([4, 3]);
    expect(await found(ann, "regret")).toEqual([]);
    await ann.close();
  });

  it("never finds a dm, and finds a bot's message like any other", async () => {
    const { room, ann } = await roomWith(["public words"]);
    ann.send({ type: "dm", to: "Ann", text: "secret words" });
    await ann.sync();
    const posted = await suite.server.http(`/api/rooms/${room}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "deploy-bot", text: "deploy words" }),
    });
    expect(posted.status).toBe(201);
    await ann.next("chat");
    expect(await found(ann, "secret")).toEqual([]);
    expect(await found(ann, "words")).toEqual([2, 1]);
    await ann.close();
  });

  it("refuses a query with no word, more than ten words, or over 200 characters with bad_message", async () => {
    const { ann } = await roomWith(["hello"]);
    for (const q of ["", "  ", "*", '" - "', "a b c d e f g h i j k", "x".repeat(201)]) {
      expect(codes([(await search(ann, q)) ?? { type: "none" }])).toEqual(["bad_message"]);
    }
    expect(codes([(await search(ann, "a b c d e f g h i j")) ?? { type: "none" }])).toEqual(["search"]);
    await ann.close();
  });

  it("treats FTS5 syntax as words or separators: quotes, OR, NEAR, *, -, : and parentheses", async () => {
    const { ann } = await roomWith(["cats OR dogs", "near the NEAR field", "title: x-ray (draft)", "cats only"]);
    expect(await found(ann, "cats OR dogs")).toEqual([1]);
    expect(await found(ann, "NEAR(field)")).toEqual([2]);
    expect(await found(ann, 'title:"x-ray" -draft*')).toEqual([3]);
    expect(await found(ann, "^cats")).toEqual([4, 1]);
    await ann.close();
  });

  it("answers any string as results or bad_message, never internal_error, and the socket stays usable", async () => {
    const { ann } = await roomWith(["some text to find", "émigré café naïve", "中文 字符 测试", "x-y:z (a) OR b*"]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 220 }), fc.string({ unit: "grapheme", maxLength: 60 })),
        async (q) => {
          const answer = await search(ann, q);
          expect(["search", "bad_message"]).toContain(answer?.type === "error" ? answer.code : answer?.type);
        },
      ),
      { numRuns: 300 },
    );
    ann.send({ type: "chat", text: "still here" });
    expect(await ann.next("chat")).toMatchObject({ text: "still here" });
    await ann.close();
  });
});

describe("READS_PER_MINUTE (§8.2, §8.3)", () => {
  const limited = chatSuite({ vars: { READS_PER_MINUTE: 3 } });

  it("refuses a socket's fourth read in a minute with rate_limited, and nothing else changes", async () => {
    const room = freshRoom("reads");
    const ann = await ChatClient.connect(limited.server.wsUrl(room));
    await ann.join("Ann");
    for (const frame of [
      { type: "history" },
      { type: "search", q: "x" },
      { type: "history" },
      { type: "search", q: "x" },
    ]) {
      ann.send(frame);
    }
    expect(codes(await ann.sync())).toEqual(["history", "search", "history", "rate_limited"]);
    ann.send({ type: "chat", text: "chat is not a read" });
    expect(codes(await ann.sync())).toEqual(["chat"]);
    await ann.close();
  });

  it("does not give an address more reads for more sockets or a reconnect: five times the socket's budget in all", async () => {
    const room = freshRoom("reads");
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await ChatClient.connect(limited.server.wsUrl(room));
      await c.join(`Reader${i}`);
      for (let r = 0; r < 3; r++) c.send({ type: "history" });
      answers.push(...codes(await c.sync()));
      await c.close();
    }
    expect(answers.filter((a) => a === "history")).toHaveLength(15);
    expect(answers.filter((a) => a === "rate_limited")).toHaveLength(3);
  });
});
