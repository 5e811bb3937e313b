/**
 * Protocol §9.4 (`members`) over real sockets: the roster by name without
 * case, then by `user`; `prefix`; `count` of the whole room; a cursor that
 * lists every member exactly once while members come and go; version-2 and
 * version-3 sockets alike; the refusals; READS_PER_MINUTE.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const suite = chatSuite({ vars: { READS_PER_MINUTE: 1000, AUTH_SECRET: TEST_AUTH_SECRET } });

const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

/** A room where each of `names` joined as a guest; returns the room and the first client. */
async function roomOf(names: string[]): Promise<{ room: string; clients: ChatClient[] }> {
  const room = freshRoom("roster");
  const clients: ChatClient[] = [];
  for (const name of names) {
    const c = await ChatClient.connect(suite.server.wsUrl(room));
    await c.join(name);
    clients.push(c);
  }
  return { room, clients };
}

async function page(client: ChatClient, frame: Record<string, unknown>) {
  client.send({ type: "members", ...frame });
  const answers = (await client.sync()).filter((f) => f.type === "members" || f.type === "error");
  const answer = answers[0];
  if (!answer) throw new Error("no answer");
  return answer;
}

/** Every name, following `next` from the start with pages of `limit`, calling `between` after each page. */
async function walk(client: ChatClient, limit: number, between: (n: number) => Promise<void> = async () => {}) {
  const names: string[] = [];
  let after: string | undefined;
  for (let n = 0; n < 50; n++) {
    const answer = await page(client, { limit, ...(after === undefined ? {} : { after }) });
    if (answer.type !== "members") throw new Error(JSON.stringify(answer));
    names.push(...answer.members.map((m) => m.name));
    if (answer.next === null) return names;
    after = answer.next;
    await between(n);
  }
  throw new Error("no end");
}

describe("members (§9.4)", () => {
  it("lists the roster by name without case, with the room's count, to the asking socket only", async () => {
    const { room, clients } = await roomOf(["cat", "Ann", "bob", "Dan", "anna"]);
    const [cat, ann] = clients;
    if (!cat || !ann) throw new Error("no clients");
    await ann.sync();
    expect(await page(cat, {})).toEqual({
      type: "members",
      room,
      members: ["Ann", "anna", "bob", "cat", "Dan"].map((name) => ({ name })),
      next: null,
      count: 5,
    });
    expect(codes(await ann.sync())).toEqual([]);
  });

  it("filters by prefix without case, and still counts the whole room", async () => {
    const { clients } = await roomOf(["Ann", "anna", "Andrés", "Ben", "ANT"]);
    const answer = await page(clients[0] as ChatClient, { prefix: "an" });
    expect(answer).toMatchObject({
      members: [{ name: "Andrés" }, { name: "Ann" }, { name: "anna" }, { name: "ANT" }],
      count: 5,
    });
    expect(await page(clients[0] as ChatClient, { prefix: "ANN", limit: 1 })).toMatchObject({
      members: [{ name: "Ann" }],
      next: expect.any(String),
    });
  });

  it("carries `user` for verified members, and orders two equal names by it", async () => {
    const room = freshRoom("roster");
    const guest = await ChatClient.connect(suite.server.wsUrl(room));
    await guest.join("Zed");
    const user = await ChatClient.connect(suite.server.wsUrl(room));
    await user.signIn(await hs256({ sub: "u-amy", name: "Amy" }));
    expect(await page(guest, {})).toMatchObject({ members: [{ name: "Amy", user: "u-amy" }, { name: "Zed" }] });
  });

  it("pages through every member exactly once, in order, for version-2 and version-3 sockets", async () => {
    const names = Array.from({ length: 13 }, (_, i) => `m${String(i).padStart(2, "0")}`);
    const { room } = await roomOf(names);
    const v3 = await ChatClient.connect(suite.server.wsUrl(room));
    await v3.join("v3", { protocol: 3 });
    expect(await walk(v3, 4)).toEqual([...names, "v3"]);
  });

  it("lists every member present throughout exactly once while others join and leave between pages", async () => {
    const stayers = ["b1", "d1", "f1", "h1", "j1", "l1"];
    const { room, clients } = await roomOf(stayers);
    const reader = clients[0] as ChatClient;
    const comers: ChatClient[] = [];
    const seen = await walk(reader, 2, async (n) => {
      // Someone sorted before the cursor and someone after it join; one stayer's neighbour leaves.
      for (const name of [`a${n}`, `k${n}`]) {
        const c = await ChatClient.connect(suite.server.wsUrl(room));
        await c.join(name);
        comers.push(c);
      }
      if (n === 0) await comers[0]?.close();
    });
    for (const name of stayers) expect(seen.filter((s) => s === name)).toEqual([name]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("refuses a limit out of 1..200, a prefix over 32 characters, and wrong types with bad_message", async () => {
    const { clients } = await roomOf(["Ann"]);
    const ann = clients[0] as ChatClient;
    for (const frame of [{ limit: 0 }, { limit: 201 }, { prefix: "x".repeat(33) }, { after: 5 }, { prefix: null }]) {
      expect(codes([await page(ann, frame)])).toEqual(["bad_message"]);
    }
    expect(codes([await page(ann, { limit: 200, prefix: "" })])).toEqual(["members"]);
  });

  it("refuses a socket that has not joined with not_joined", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    expect(codes([await page(c, {})])).toEqual(["not_joined"]);
  });
});

describe("members and READS_PER_MINUTE", () => {
  const limited = chatSuite({ vars: { READS_PER_MINUTE: 2 } });

  it("counts `members` with `history` and `search` against the socket's reads", async () => {
    const ann = await ChatClient.connect(limited.server.wsUrl(freshRoom("roster")));
    await ann.join("Ann");
    for (const frame of [{ type: "members" }, { type: "history" }, { type: "members" }]) ann.send(frame);
    expect(codes(await ann.sync())).toEqual(["members", "history", "rate_limited"]);
  });
});
