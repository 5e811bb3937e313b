/**
 * Protocol §5.3 and §5.4 over real sockets: one verified user on several
 * sockets is one member, and a member who drops without a clean close
 * keeps their place for PRESENCE_GRACE_MS. What is counted is what the
 * others receive.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { type ChatServer, chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const GRACE_MS = 1500;
const MAX_SOCKETS_PER_USER = 3;

const suite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, PRESENCE_GRACE_MS: GRACE_MS, MAX_SOCKETS_PER_USER } });
/** A grace far longer than any wait here: what arrives, arrives because of a clean close. */
const patientSuite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, PRESENCE_GRACE_MS: 600_000 } });

const ann = (extra = {}) => hs256({ sub: "u-ann", name: "Ann", ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ben (a guest, the bystander) and `tabs` sockets of Ann, all joined; Ben's inbox is empty. */
async function roomWithAnn(tabs: number, on: ChatServer = suite.server) {
  const room = freshRoom();
  const ben = await ChatClient.connect(on.wsUrl(room));
  await ben.join("Ben");
  const sockets: ChatClient[] = [];
  for (let i = 0; i < tabs; i++) {
    const tab = await ChatClient.connect(on.wsUrl(room));
    await tab.signIn(await ann());
    sockets.push(tab);
  }
  await ben.sync();
  return { room, ben, tabs: sockets };
}

const presence = (frames: Array<{ type: string }>) => frames.filter((f) => f.type === "joined" || f.type === "left");

describe("one user, several sockets (§5.3)", () => {
  it("makes two sockets of one user one member: one roster entry, one `joined`, a welcome each", async () => {
    const room = freshRoom();
    const ben = await ChatClient.connect(suite.server.wsUrl(room));
    await ben.join("Ben");
    const [one, two] = [
      await ChatClient.connect(suite.server.wsUrl(room)),
      await ChatClient.connect(suite.server.wsUrl(room)),
    ];
    const first = await one.signIn(await ann());
    const second = await two.signIn(await ann());
    expect([first.users, second.users]).toEqual([
      ["Ben", "Ann"],
      ["Ben", "Ann"],
    ]);
    expect(presence(await ben.sync())).toEqual([expect.objectContaining({ type: "joined", name: "Ann", count: 2 })]);
    expect(presence(await one.sync())).toEqual([]);
  });

  it("delivers a chat from any of the user's sockets to all of them, and to everyone else, once each", async () => {
    const { ben, tabs } = await roomWithAnn(2);
    const [one, two] = tabs as [ChatClient, ChatClient];
    one.send({ type: "chat", text: "from tab one" });
    ben.send({ type: "chat", text: "from Ben" });
    for (const c of [ben, one, two]) {
      const chats = [await c.next("chat"), await c.next("chat")];
      expect(chats.map((m) => m.text).sort()).toEqual(["from Ben", "from tab one"]);
      expect((await c.sync()).filter((f) => f.type === "chat")).toEqual([]);
    }
  });

  it("delivers a dm to every socket of its target", async () => {
    const { ben, tabs } = await roomWithAnn(3);
    ben.send({ type: "dm", to: "ann", text: "for all of you" });
    for (const tab of tabs) expect(await tab.next("dm")).toMatchObject({ from: "Ben", to: "Ann" });
    expect(await ben.next("dm")).toMatchObject({ to: "Ann", text: "for all of you" });
  });

  it("refuses the socket beyond MAX_SOCKETS_PER_USER with too_many_sockets and keeps it open", async () => {
    const { room, ben, tabs } = await roomWithAnn(MAX_SOCKETS_PER_USER);
    const extra = await ChatClient.connect(suite.server.wsUrl(room));
    expect(await extra.attempt({ auth: await ann() })).toMatchObject({ type: "error", code: "too_many_sockets" });
    await tabs[0]?.close();
    expect((await extra.signIn(await ann())).name).toBe("Ann");
    expect(presence(await ben.sync())).toEqual([]);
  });

  it("announces `left` after the last socket, not before", async () => {
    const { ben, tabs } = await roomWithAnn(2);
    await tabs[0]?.close();
    expect(presence(await ben.sync())).toEqual([]);
    await tabs[1]?.close();
    expect(await ben.next("left")).toMatchObject({ name: "Ann", user: "u-ann", count: 1 });
  });

  it("gives the user's sockets one rate bucket together: more tabs, no more messages", async () => {
    const { ben, tabs } = await roomWithAnn(3);
    // RATE_BURST is 10 and the refill 5/s: 15 sent in a burst across three tabs.
    for (let i = 0; i < 15; i++) tabs[i % 3]?.send({ type: "chat", text: `m${i}` });
    await Promise.all(tabs.map((t) => t.sync()));
    const delivered = (await ben.sync()).filter((f) => f.type === "chat").length;
    expect(delivered).toBeGreaterThanOrEqual(10);
    expect(delivered).toBeLessThan(12);
  });
});

describe("presence grace (§5.4)", () => {
  it("lets a verified user who dropped come back with a new token, and nobody sees a thing", async () => {
    const { room, ben, tabs } = await roomWithAnn(1);
    tabs[0]?.terminate();
    await sleep(200);
    const back = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await back.signIn(await ann());
    await sleep(GRACE_MS + 500);
    expect(welcome.users).toEqual(["Ben", "Ann"]);
    expect(presence(await ben.sync())).toEqual([]);
  });

  it("lets a guest who dropped come back with the welcome's token, and nobody sees a thing", async () => {
    const room = freshRoom();
    const [ben, gus] = [
      await ChatClient.connect(suite.server.wsUrl(room)),
      await ChatClient.connect(suite.server.wsUrl(room)),
    ];
    await ben.join("Ben");
    const { token } = await gus.join("Gus");
    await ben.sync();
    gus.terminate();
    await sleep(200);
    const squatter = await ChatClient.connect(suite.server.wsUrl(room));
    expect(await squatter.attempt({ name: "Gus" })).toMatchObject({ code: "name_taken" });
    const back = await ChatClient.connect(suite.server.wsUrl(room));
    expect((await back.join("Gus", { token })).users).toEqual(["Ben", "Gus"]);
    await sleep(GRACE_MS + 500);
    expect(presence(await ben.sync())).toEqual([]);
  });

  it("announces `left` when the grace ends without a return, and frees the name", async () => {
    const { room, ben, tabs } = await roomWithAnn(1);
    tabs[0]?.close(4000);
    await sleep(GRACE_MS / 3);
    expect(presence(await ben.sync())).toEqual([]);
    expect(await ben.next("left", GRACE_MS + 3000)).toMatchObject({ name: "Ann", user: "u-ann", count: 1 });
    const guest = await ChatClient.connect(suite.server.wsUrl(room));
    expect((await guest.join("Ann")).users).toEqual(["Ben", "Ann"]);
  });

  it("announces `left` at once after a clean close or a leave", async () => {
    const { room, ben, tabs } = await roomWithAnn(1, patientSuite.server);
    await tabs[0]?.close(1001);
    expect(await ben.next("left")).toMatchObject({ name: "Ann" });
    const cat = await ChatClient.connect(patientSuite.server.wsUrl(room));
    await cat.join("Cat");
    await ben.next("joined");
    cat.send({ type: "leave" });
    expect(await ben.next("left")).toMatchObject({ name: "Cat" });
  });

  it("keeps a dropped member in the roster for the grace, also for newcomers", async () => {
    const { room, tabs } = await roomWithAnn(1, patientSuite.server);
    tabs[0]?.terminate();
    await sleep(200);
    const late = await ChatClient.connect(patientSuite.server.wsUrl(room));
    expect((await late.join("Late")).members).toEqual([
      { name: "Ben" },
      { name: "Ann", user: "u-ann" },
      { name: "Late" },
    ]);
  });
});
