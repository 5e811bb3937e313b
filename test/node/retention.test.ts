/**
 * Retention (§8.1) over real sockets and HTTP, with a fractional
 * HISTORY_RETENTION_DAYS of 0.00003 days (2.6 s): from the moment a message
 * expires no answer returns it (welcome, history, search, the HTTP routes),
 * whether or not the sweep has deleted its row yet. The sweep itself is
 * tested in the workers suite (the tables) and the hibernation suite (an
 * alarm in an evicted room).
 */
import * as v from "valibot";
import { expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const RETENTION_MS = 0.00003 * 86_400_000;
const suite = chatSuite({ vars: { HISTORY_RETENTION_DAYS: 0.00003, HISTORY_LIMIT: 2 } });
const Message = v.looseObject({ text: v.string() });
const Page = v.looseObject({ messages: v.optional(v.array(Message)), results: v.optional(v.array(Message)) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("leaves an expired message out of every answer at once, in the ring and beyond it", async () => {
  const room = freshRoom("retention");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  await ann.join("Ann");
  for (const text of ["old one", "old two", "old three"]) ann.send({ type: "chat", text });
  await ann.sync();
  const sentAt = Date.now();
  ann.send({ type: "search", q: "old" });
  expect(await ann.sync()).toMatchObject([{ type: "search", results: [{ seq: 3 }, { seq: 2 }, { seq: 1 }] }]);

  await sleep(RETENTION_MS - (Date.now() - sentAt) + 300);
  ann.send({ type: "chat", text: "new one" });
  ann.send({ type: "search", q: "one" });
  ann.send({ type: "history" });
  ann.send({ type: "delete", seq: 1 });
  expect(await ann.sync()).toMatchObject([
    { type: "chat", seq: 4 },
    { type: "search", results: [{ seq: 4 }], more: false },
    { type: "history", messages: [{ seq: 4 }], more: false },
    { type: "error", code: "not_found" },
  ]);
  const ben = await ChatClient.connect(suite.server.wsUrl(room));
  expect((await ben.join("Ben")).history.map((m) => m.seq)).toEqual([4]);
  const texts = async (path: string) => {
    const body = v.parse(Page, await (await suite.server.http(`/api/rooms/${room}${path}`)).json());
    return (body.messages ?? body.results ?? []).map((m) => m.text);
  };
  expect(await texts("/messages?since=0")).toEqual(["new one"]);
  expect(await texts("/messages?before=4")).toEqual([]);
  expect(await texts("/search?q=old")).toEqual([]);
  await Promise.all([ann.close(), ben.close()]);
});
