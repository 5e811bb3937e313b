// CPU profile of the room under the throughput load: starts edge-chat with
// workerd's inspector open, drives 20 closed-loop clients for a few seconds
// while the V8 profiler samples, and prints the functions with the most
// self time. `node bench/profile.mjs [seconds] [--floor] [--joinstorm]`; the raw profile goes to
// bench/results/profile.cpuprofile (open it in Chrome DevTools).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { startFloor } from "./floor-server.mjs";
import { connectInspector } from "./inspector.mjs";

const seconds = Number(process.argv[2] ?? 4);
// --floor profiles the reference room instead, for comparison.
const floor = process.argv.includes("--floor");
const INSPECTOR_PORT = 9331;
// Storage on tmpfs, as in the benchmark; removed at the end.
const persist = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edge-chat-profile-"));
const server = floor
  ? await startFloor({ persist, inspectorPort: INSPECTOR_PORT })
  : await startWorker({
      scriptPath: buildWorker({ outDir: ".wrangler/profile-build" }),
      vars: { ...ONE_MACHINE_LOAD, RATE_BURST: 1_000_000, RATE_PER_SEC: 1_000_000 },
      persist,
      inspectorPort: INSPECTOR_PORT,
    });

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
const room = `profile-${Date.now().toString(36)}`;
let committed = 0;
/** Opens a socket and joins as `name`; resolves once welcomed. @param {string} name @param {(ws: WebSocket, frame: { type: string, name?: string, text?: string }) => void} [onFrame] */
const joinAs = async (name, onFrame) => {
  const ws = new WebSocket(server.wsUrl(room));
  await new Promise((r) => ws.once("open", r));
  await new Promise((/** @type {(value?: unknown) => void} */ resolve) => {
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "welcome" || (frame.type === "join" && frame.name === name)) resolve();
      onFrame?.(ws, frame);
    });
    ws.send(JSON.stringify({ type: "join", name }));
  });
  return ws;
};
const profiler = async () => {
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
};

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
console.log(`${committed} ${storm ? "joins welcomed" : `messages committed in ${seconds} s`}; ${total} samples\n`);
for (const [key, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${((n / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}
inspector.close();
await server.stop();
rmSync(persist, { recursive: true, force: true });
process.exit(0);
