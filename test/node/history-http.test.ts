/**
 * Protocol §8.4 over HTTP: `messages?before=` and `search?q=`, their
 * refusals (400 bad_request, 400 bad_query), the cap at HISTORY_PAGE_LIMIT,
 * private rooms, and SEARCHES_PER_MINUTE per address over all rooms. The
 * bodies are read through the wire module's schemas.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { MessagesPageSchema, SearchPageSchema } from "../../src/shared/http";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const suite = chatSuite({
  vars: {
    HISTORY_LIMIT: 3,
    HISTORY_PAGE_LIMIT: 4,
    RATE_BURST: 1000,
    ADDRESS_RATE_BURST: 1000,
    AUTH_SECRET: TEST_AUTH_SECRET,
    SEARCHES_PER_MINUTE: 1000,
  },
});

async function roomWith(n: number, prefix = "http-history", auth?: string): Promise<string> {
  const room = freshRoom(prefix);
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  if (auth) await ann.signIn(auth);
  else await ann.join("Ann");
  for (let i = 1; i <= n; i++) ann.send({ type: "chat", text: `note ${i}` });
  await ann.sync();
  await ann.close();
  return room;
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await suite.server.http(path, { headers });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("GET /api/rooms/:room/messages?before= (§8.4)", () => {
  it("answers a page before a seq, oldest first, with `more`, capped at HISTORY_PAGE_LIMIT", async () => {
    const room = await roomWith(10);
    const { status, body } = await get(`/api/rooms/${room}/messages?before=9&limit=1000`);
    expect(status).toBe(200);
    const page = v.parse(MessagesPageSchema, body);
    expect(page.messages.map((m) => m.seq)).toEqual([5, 6, 7, 8]);
    expect(page).toMatchObject({ room, more: true });
    const last = v.parse(MessagesPageSchema, (await get(`/api/rooms/${room}/messages?before=3`)).body);
    expect(last.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(last.more).toBe(false);
  });

  it("refuses `before` with `since` with 400 bad_request, and a malformed cursor with 400", async () => {
    const room = await roomWith(2);
    expect(await get(`/api/rooms/${room}/messages?before=2&since=0`)).toMatchObject({
      status: 400,
      body: { error: "bad_request" },
    });
    expect((await get(`/api/rooms/${room}/messages?before=0`)).status).toBe(400);
    expect((await get(`/api/rooms/${room}/messages?before=x`)).status).toBe(400);
  });

  it("keeps `since` as version 2 had it: the ring's messages changed after it, without `more`", async () => {
    const room = await roomWith(5);
    const page = v.parse(MessagesPageSchema, (await get(`/api/rooms/${room}/messages?since=0`)).body);
    expect(page.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(page.more).toBeUndefined();
  });
});

describe("GET /api/rooms/:room/search?q= (§8.4)", () => {
  it("answers matches newest first with `more`, and pages with `before`", async () => {
    const room = await roomWith(6);
    const first = v.parse(SearchPageSchema, (await get(`/api/rooms/${room}/search?q=NOTE&limit=4`)).body);
    expect(first.results.map((m) => m.seq)).toEqual([6, 5, 4, 3]);
    expect(first).toMatchObject({ room, q: "NOTE", more: true });
    const rest = v.parse(SearchPageSchema, (await get(`/api/rooms/${room}/search?q=NOTE&before=3`)).body);
    expect(rest.results.map((m) => m.seq)).toEqual([2, 1]);
    expect(rest.more).toBe(false);
  });

  it("refuses a query with no word, or none at all, with 400 bad_query", async () => {
    const room = await roomWith(1);
    for (const q of ["?q=", "?q=%22%2A%22", "", `?q=${"x".repeat(201)}`]) {
      expect(await get(`/api/rooms/${room}/search${q}`)).toMatchObject({ status: 400, body: { error: "bad_query" } });
    }
  });

  it("answers 404 for a private room without a covering token, and the results with one", async () => {
    const token = await hs256({ sub: "u1", name: "Ann", rooms: ["private-search*"] });
    const room = await roomWith(2, "private-search", token);
    expect((await get(`/api/rooms/${room}/search?q=note`)).status).toBe(404);
    expect((await get(`/api/rooms/${room}/messages?before=2`)).status).toBe(404);
    const page = await get(`/api/rooms/${room}/search?q=note`, { Authorization: `Bearer ${token}` });
    expect(v.parse(SearchPageSchema, page.body).results.map((m) => m.seq)).toEqual([2, 1]);
  });
});

describe("SEARCHES_PER_MINUTE (§8.4)", () => {
  const limited = chatSuite({ vars: { SEARCHES_PER_MINUTE: 2 } });

  it("answers an address's third search in a minute with 429, whichever rooms it searches", async () => {
    const headers = { "CF-Connecting-IP": "198.51.100.44" };
    const statuses: number[] = [];
    for (const room of [freshRoom("s"), freshRoom("s"), freshRoom("s")]) {
      const res = await limited.server.http(`/api/rooms/${room}/search?q=hello`, { headers });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses).toEqual([200, 200, 429]);
    // Another address is not held back.
    const other = await limited.server.http(`/api/rooms/${freshRoom("s")}/search?q=hello`, {
      headers: { "CF-Connecting-IP": "198.51.100.45" },
    });
    expect(other.status).toBe(200);
    await other.body?.cancel();
  });
});
