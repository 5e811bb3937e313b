// npm run bench:reads: what read state and mentions (protocol §10) cost.
// Nothing is asserted; the figures are printed and written to
// bench/results/reads.json.
//
// - A chat with 0 and with 3 mentions of verified users who are away:
//   workerd CPU per chat over --chats chats of each kind, sent one at a
//   time, and the object-to-object calls a chat makes, counted where they
//   land: each mentioned user's object pushes one `mention` to their `/me`
//   socket, so mention frames received ÷ chats is the calls per chat.
// - GET /api/me/rooms for a user in --rooms rooms: latency over --lists
//   requests (median and p95; LISTS_PER_MINUTE allows 30 a minute).
//
//   npm run bench:reads                         (500 chats, 50 rooms, 20 lists)
//   npm run bench:reads -- --chats 50 --lists 5 (the CI smoke run)

import { mkdirSync, writeFileSync } from "node:fs";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { numericArgs, percentile } from "../scripts/lib/stats.mjs";
import { cpuMs, round } from "./load.mjs";

const opts = numericArgs({ chats: 500, rooms: 50, lists: 20 });
const SECRET = "bench-reads-auth-secret-0123456789abcdef-0123";
const server = await startWorker({
  scriptPath: buildWorker({ outDir: ".wrangler/bench-build" }),
  persist: false,
  vars: {
    ...ONE_MACHINE_LOAD,
    RATE_BURST: 1_000_000,
    RATE_PER_SEC: 1_000_000,
    AUTH_SECRET: SECRET,
    JOINS_PER_MINUTE: 10_000,
  },
});
const found = server.pid;
if (found === undefined) throw new Error("no workerd process to measure");
/** @type {number} */
const pid = found;

/** @param {string} sub @param {string} name */
const token = (sub, name) =>
  new SignJWT({ name })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setAudience("edge-chat")
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(new TextEncoder().encode(SECRET));

/** A socket whose frames come one by one. @param {string} url */
async function open(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  /** @type {any[]} */
  const inbox = [];
  /** @type {Array<() => void>} */
  const wake = [];
  ws.on("message", (data) => {
    inbox.push(JSON.parse(data.toString()));
    wake.shift()?.();
  });
  await new Promise((resolve) => ws.once("open", resolve));
  /** @param {string} type */
  const next = async (type) => {
    for (;;) {
      const i = inbox.findIndex((f) => f.type === type);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise((resolve) => wake.push(() => resolve(undefined)));
    }
  };
  return { ws, inbox, next, send: (/** @type {object} */ f) => ws.send(JSON.stringify(f)) };
}

const meUrl = `${server.origin.replace(/^http/, "ws")}/me`;
const room = `reads-${Date.now().toString(36)}`;

// Three users who joined once and left: remembered, mentionable, away.
/** @type {Array<Awaited<ReturnType<typeof open>>>} */
const away = [];
for (const name of ["Uma", "Vic", "Wyn"]) {
  const auth = await token(`bench-${name}`, name);
  const s = await open(server.wsUrl(room));
  s.send({ type: "join", auth, protocol: 3 });
  await s.next("welcome");
  s.ws.close(1000);
  const me = await open(meUrl);
  me.send({ type: "auth", auth });
  await me.next("rooms");
  away.push(me);
}
const author = await open(server.wsUrl(room));
author.send({ type: "join", auth: await token("bench-author", "Author"), protocol: 3 });
await author.next("welcome");

/** CPU ms per chat, and mention frames the /me sockets got per chat. @param {(i: number) => string} text */
async function chatCost(text) {
  const mentionsBefore = away.reduce((n, me) => n + me.inbox.filter((f) => f.type === "mention").length, 0);
  const cpu0 = cpuMs([pid]);
  for (let i = 0; i < opts.chats; i++) {
    author.send({ type: "chat", text: text(i) });
    await author.next("chat");
  }
  const cpu = (cpuMs([pid]) - cpu0) / opts.chats;
  // The pushes are not awaited by the chat: give the last ones a moment.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const mentions = away.reduce((n, me) => n + me.inbox.filter((f) => f.type === "mention").length, 0) - mentionsBefore;
  for (const me of away) me.inbox.length = 0;
  return { cpuMs: round(cpu), callsPerChat: round(mentions / opts.chats) };
}

const none = await chatCost((i) => `message ${i}`);
const three = await chatCost((i) => `@Uma @Vic @Wyn message ${i}`);
const noneAgain = await chatCost((i) => `message ${i}`);
const chat = {
  noMentions: { cpuMs: round((none.cpuMs + noneAgain.cpuMs) / 2), callsPerChat: none.callsPerChat },
  threeMentions: three,
};

// A user in many rooms, each with a few messages from someone else.
const listAuth = await token("bench-lister", "Lister");
for (let r = 0; r < opts.rooms; r++) {
  const name = `${room}-${r}`;
  const s = await open(server.wsUrl(name));
  s.send({ type: "join", auth: listAuth, protocol: 3 });
  await s.next("welcome");
  s.ws.close(1000);
  author.send({ type: "ping" });
  const other = await open(server.wsUrl(name));
  other.send({ type: "join", name: "Poster", protocol: 3 });
  await other.next("welcome");
  for (let i = 0; i < 3; i++) {
    other.send({ type: "chat", text: `news ${i}` });
    await other.next("chat");
  }
  other.ws.close(1000);
}
const latencies = [];
let listed = 0;
for (let i = 0; i < opts.lists; i++) {
  const t0 = performance.now();
  const res = await fetch(`${server.origin}/api/me/rooms`, { headers: { Authorization: `Bearer ${listAuth}` } });
  const body = /** @type {{ rooms: unknown[] }} */ (await res.json());
  latencies.push(performance.now() - t0);
  listed = body.rooms.length;
}
latencies.sort((a, b) => a - b);
const meRooms = {
  rooms: listed,
  medianMs: round(percentile(latencies, 50)),
  p95Ms: round(percentile(latencies, 95)),
};

const result = { when: new Date().toISOString(), options: opts, chat, meRooms };
console.log(JSON.stringify(result, null, 2));
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/reads.json", `${JSON.stringify(result, null, 2)}\n`);
for (const me of away) me.ws.close(1000);
author.ws.close(1000);
await server.stop();
