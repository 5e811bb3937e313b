// What WebSocket compression costs a room (docs/benchmarks.md, "WebSocket
// compression"). Browsers offer permessage-deflate on every socket; these
// clients offer it too, as `npm run bench`'s do not. Two rooms of 500
// members, 20 chats a second in each (20,000 deliveries a second), for a
// few seconds; prints what the sockets agreed, the runtime's CPU per 1,000
// deliveries and its peak RSS. edge-chat declines compression
// (src/worker/upgrade.ts): run this at a commit before that to see what it
// cost. `node bench/compression.mjs [seconds]`
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { cpuMs, peakRssMb } from "./load.mjs";

const seconds = Number(process.argv[2] ?? 8);
const ROOMS = 2;
const MEMBERS = 500;
const CHATS_PER_SECOND = 20;
const persist = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edge-chat-compression-"));
const server = await startWorker({
  scriptPath: buildWorker({ outDir: ".wrangler/compression-build" }),
  vars: { ...ONE_MACHINE_LOAD, RATE_BURST: 1_000_000, RATE_PER_SEC: 1_000_000, MAX_ROOM_USERS: 100_000 },
  persist,
});
const pid = server.pid;
if (pid === undefined) throw new Error("the runtime's process was not found");

let delivered = 0;
/** @param {string} room @param {string} name @returns {Promise<WebSocket>} */
const joinAs = async (room, name) => {
  // The `ws` default, as a browser: offers permessage-deflate.
  const ws = new WebSocket(server.wsUrl(room), { perMessageDeflate: true });
  await new Promise((r) => ws.once("open", r));
  await new Promise((/** @type {(v?: unknown) => void} */ resolve) => {
    ws.on("message", (data) => {
      const type = JSON.parse(data.toString()).type;
      if (type === "welcome") resolve();
      else if (type === "chat") delivered++;
    });
    ws.send(JSON.stringify({ type: "join", name }));
  });
  return ws;
};

/** @type {WebSocket[][]} */
const rooms = [];
for (let r = 0; r < ROOMS; r++) {
  const room = `compression-${Date.now().toString(36)}-${r}`;
  const sockets = [];
  for (let i = 0; i < MEMBERS; i++) sockets.push(await joinAs(room, `m${i}`));
  rooms.push(sockets);
}
const agreed = new Set(rooms.flat().map((ws) => ws.extensions || "(none)"));
delivered = 0;
const cpu0 = cpuMs([pid]);
let sent = 0;
const timer = setInterval(() => {
  for (const sockets of rooms) {
    const from = sockets[sent % MEMBERS];
    from?.send(JSON.stringify({ type: "chat", text: `message ${sent} ${"x".repeat(40)}`, id: `c${sent}` }));
  }
  sent++;
}, 1000 / CHATS_PER_SECOND);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(timer);
const expected = sent * MEMBERS * ROOMS;
for (let waited = 0; delivered < expected && waited < 20_000; waited += 100)
  await new Promise((r) => setTimeout(r, 100));
const cpu = cpuMs([pid]) - cpu0;
console.log(`extensions agreed: ${[...agreed].join(", ")}`);
console.log(
  `${delivered} of ${expected} deliveries; CPU per 1,000 deliveries ${((cpu / delivered) * 1000).toFixed(1)} ms`,
);
console.log(`peak RSS of the runtime with ${ROOMS * MEMBERS} sockets: ${peakRssMb([pid]).toFixed(0)} MB`);
for (const ws of rooms.flat()) ws.close();
await server.stop();
rmSync(persist, { recursive: true, force: true });
process.exit(0);
