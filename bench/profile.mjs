// CPU profile of the room under the throughput load: starts edge-chat with
// workerd's inspector open, drives 20 closed-loop clients for a few seconds
// while the V8 profiler samples, and prints the runtime's CPU meanwhile and
// the functions with the most self time; the raw profile goes to
// bench/results/profile.cpuprofile (open it in Chrome DevTools).
//
//   node bench/profile.mjs [seconds] [--floor | --floor-durable] [--joinstorm [--v3] | --rooms]
//
// The profiler sees the isolate only: time in the runtime's own code
// (sockets, SQLite, commits) is charged to whichever JavaScript frame called
// into it, or not seen at all, so compare two systems' native costs with a
// whole-process profiler (perf) instead (docs/benchmarks.md).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { startFloor } from "./floor-server.mjs";
import { connectInspector } from "./inspector.mjs";
import { cpuMs } from "./load.mjs";

const seconds = Number(process.argv[2] ?? 4);
// --floor profiles the reference room instead, for comparison; --floor-durable
// the one that also stores each relayed frame (bench/floor-server.mjs).
const durableFloor = process.argv.includes("--floor-durable");
const floor = durableFloor || process.argv.includes("--floor");
const INSPECTOR_PORT = 9331;
// Storage on tmpfs, as in the benchmark; removed at the end.
const persist = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edge-chat-profile-"));
const server = floor
  ? await startFloor({ persist, inspectorPort: INSPECTOR_PORT, stores: durableFloor })
  : await startWorker({
      scriptPath: buildWorker({ outDir: ".wrangler/profile-build" }),
      vars: { ...ONE_MACHINE_LOAD, RATE_BURST: 1_000_000, RATE_PER_SEC: 1_000_000 },
      persist,
      inspectorPort: INSPECTOR_PORT,
    });

const pid = server.pid;
if (pid === undefined) throw new Error("the runtime's process was not found");

/**
 * The parts of the profiler's answer used here (DevTools protocol).
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[] }} Profile
 */
const inspector = await connectInspector(INSPECTOR_PORT);
const call = inspector.call;

// --joinstorm profiles 300 joins at once into a room with 100 messages of
// history (the bench's join storm) instead of the closed-loop chat load.
const storm = process.argv.includes("--joinstorm");
// --v3 joins as version-3 clients (the bench's joinstorm-v3).
const v3 = process.argv.includes("--v3");
// --rooms profiles the bench's rooms scenario: 50 rooms of 8 clients, each
// client sending 1 chat a second, so every chat is an event of its own in
// a room that was idle.
const manyRooms = process.argv.includes("--rooms");
const room = `profile-${Date.now().toString(36)}`;
let committed = 0;
/**
 * Opens a socket and joins as `name`; resolves once welcomed.
 * @param {string} name
 * @param {(ws: WebSocket, frame: { type: string, name?: string, text?: string }) => void} [onFrame]
 * @param {string} [into] the room, if not the one of this run
 */
const joinAs = async (name, onFrame, into = room) => {
  const ws = new WebSocket(server.wsUrl(into));
  await new Promise((r) => ws.once("open", r));
  await new Promise((/** @type {(value?: unknown) => void} */ resolve) => {
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "welcome" || (frame.type === "join" && frame.name === name)) resolve();
      onFrame?.(ws, frame);
    });
    ws.send(JSON.stringify({ type: "join", name, ...(v3 ? { protocol: 3 } : {}) }));
  });
  return ws;
};
const profiler = async () => {
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
  cpuAtStart = cpuMs([pid]);
};
let cpuAtStart = 0;

if (storm) {
  const poster = await joinAs("poster");
  for (let i = 0; i < 100; i++) poster.send(JSON.stringify({ type: "chat", text: `history ${i}` }));
  await new Promise((r) => setTimeout(r, 500));
  poster.close();
  await profiler();
  const sockets = await Promise.all(Array.from({ length: 300 }, (_, i) => joinAs(`j${i}`)));
  committed = sockets.length;
  await new Promise((r) => setTimeout(r, 500));
  for (const ws of sockets) ws.close();
} else if (manyRooms) {
  /** @type {WebSocket[]} */
  const sockets = [];
  for (let r = 0; r < 50; r++) {
    for (let i = 0; i < 8; i++) {
      sockets.push(
        await joinAs(`r${r}u${i}`, (_, frame) => void (frame.type === "chat" && committed++), `${room}-${r}`),
      );
    }
  }
  await profiler();
  /** @type {Array<ReturnType<typeof setTimeout>>} */
  const timers = sockets.map((ws, i) =>
    setTimeout(() => {
      let n = 0;
      const tick = () => ws.send(JSON.stringify({ type: "chat", text: `message ${n++}`, id: `m${i}-${n}` }));
      tick();
      timers.push(setInterval(tick, 1000));
    }, Math.random() * 1000),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const t of timers) clearInterval(t);
  await new Promise((r) => setTimeout(r, 300));
  for (const ws of sockets) ws.close();
} else {
  // 20 closed-loop clients, as in the throughput scenario.
  let running = true;
  /** @type {Array<() => void>} */
  const clients = [];
  for (let i = 0; i < 20; i++) {
    const name = `p${i}`;
    let counter = 0;
    const ws = await joinAs(name, (_, frame) => {
      if (frame.type === "chat" && (frame.name === name || frame.text?.startsWith(`${name}|`))) {
        committed++;
        if (running) send();
      }
    });
    const send = () =>
      ws.send(JSON.stringify({ type: "chat", text: `${name}|${counter++}|x`, id: `${name}-${counter}` }));
    clients.push(send);
  }
  await profiler();
  for (const send of clients) send();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
}
const cpu = cpuMs([pid]) - cpuAtStart;
const { profile } = /** @type {{ profile: Profile }} */ (await call("Profiler.stop"));
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/profile.cpuprofile", JSON.stringify(profile));

// Self time per function, from the sample counts.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
/** @type {Map<string, number>} */
const self = new Map();
for (const id of profile.samples) {
  const node = byId.get(id);
  if (!node) continue;
  const f = node.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + 1);
}
const total = profile.samples.length;
const what = storm ? "joins welcomed" : manyRooms ? "chats delivered" : `messages committed in ${seconds} s`;
console.log(`${committed} ${what}; ${total} samples; workerd CPU ${cpu} ms (profiler included)\n`);
for (const [key, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${((n / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}
inspector.close();
await server.stop();
rmSync(persist, { recursive: true, force: true });
process.exit(0);
