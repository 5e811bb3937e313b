// Soak: many clients in many rooms chatting at a steady rate for a bounded
// time, then an account of every message. Loopback only.
//
//   npm run soak                          500 clients, 20 rooms, 60 s
//   npm run soak -- --clients 100 --rooms 5 --seconds 5     (what CI runs)
//
// Every client joins one room and sends `--rate` messages per second, each
// with a client id. Every chat frame a client receives is checked against
// the seqs it has already seen. At the end (after a drain) it prints:
//   delivered     chat frames received
//   lost          expected deliveries that never arrived (every member of a
//                 room must see every seq the room committed, from its first)
//   duplicated    a seq received twice by the same client
//   out-of-order  a seq lower than one already received
//   rate_limited  sends the server refused (must be 0 at a sane --rate)
//   latency       send → receipt, over all receivers, p50/p95/p99/max ms
// and exits 1 unless lost, duplicated, out-of-order and errors are all 0.
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "./lib/harness.mjs";
import { numericArgs, percentile } from "./lib/stats.mjs";

const opts = numericArgs({ clients: 500, rooms: 20, seconds: 60, rate: 0.5, drain: 3 });
const server = await startWorker({
  scriptPath: buildWorker({ outDir: ".wrangler/soak-build" }),
  vars: ONE_MACHINE_LOAD,
});
const runId = Date.now().toString(36);

/** @type {Map<string, number>} id → send time (ms, performance.now) */
const sentAt = new Map();
/** @type {number[]} */
const latencies = [];
let delivered = 0;
let duplicated = 0;
let outOfOrder = 0;
let errors = 0;
let rateLimited = 0;
/** room → highest committed seq seen by its senders */
const committed = new Map();

/** @param {number} index */
function client(index) {
  const room = `soak-${runId}-${index % opts.rooms}`;
  const name = `c${index}`;
  const seen = new Set();
  let firstSeq = Number.POSITIVE_INFINITY;
  let lastSeq = 0;
  let counter = 0;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;
  const ws = new WebSocket(server.wsUrl(room));
  const state = { room, seen: () => seen, firstSeq: () => firstSeq, ws, stop: () => clearInterval(timer) };
  ws.on("open", () => ws.send(JSON.stringify({ type: "join", name })));
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    const now = performance.now();
    if (frame.type === "welcome") {
      lastSeq = frame.seq;
      firstSeq = frame.seq + 1;
      // Spread the senders evenly over one period, so the load is steady.
      const period = 1000 / opts.rate;
      setTimeout(() => {
        timer = setInterval(() => {
          const id = `${name}-${counter++}`;
          sentAt.set(`${room}/${id}`, performance.now());
          ws.send(JSON.stringify({ type: "chat", text: `${id} ${"x".repeat(40)}`, id }));
        }, period);
      }, Math.random() * period);
    } else if (frame.type === "chat") {
      delivered++;
      if (seen.has(frame.seq)) duplicated++;
      else if (frame.seq < lastSeq) outOfOrder++;
      seen.add(frame.seq);
      lastSeq = Math.max(lastSeq, frame.seq);
      const t = sentAt.get(`${room}/${frame.id}`);
      if (t !== undefined) latencies.push(now - t);
      if (frame.name === name) committed.set(room, Math.max(committed.get(room) ?? 0, frame.seq));
    } else if (frame.type === "error") {
      if (frame.code === "rate_limited") rateLimited++;
      else errors++;
    }
  });
  ws.on("error", () => errors++);
  return state;
}

const started = performance.now();
const clients = [];
for (let i = 0; i < opts.clients; i++) {
  clients.push(client(i));
  // Connect in small batches, as a real crowd arrives.
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, opts.seconds * 1000));
for (const c of clients) c.stop();
await new Promise((r) => setTimeout(r, opts.drain * 1000));
const elapsed = (performance.now() - started) / 1000;

// Every client should have every seq its room committed since it joined.
let lost = 0;
let expected = 0;
for (const c of clients) {
  const top = committed.get(c.room) ?? 0;
  for (let seq = c.firstSeq(); seq <= top; seq++) {
    expected++;
    if (!c.seen().has(seq)) lost++;
  }
}
for (const c of clients) c.ws.close();
await server.stop();

latencies.sort((a, b) => a - b);
const result = {
  clients: opts.clients,
  rooms: opts.rooms,
  seconds: opts.seconds,
  ratePerClient: opts.rate,
  sent: sentAt.size,
  expectedDeliveries: expected,
  delivered,
  lost,
  duplicated,
  outOfOrder,
  rateLimited,
  errors,
  deliveriesPerSec: Math.round(delivered / elapsed),
  latencyMs: {
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? Number.NaN),
  },
};
console.log(JSON.stringify(result));
console.log(
  `soak: ${opts.clients} clients, ${opts.rooms} rooms, ${opts.seconds} s: sent ${result.sent}, ` +
    `delivered ${delivered}/${expected}, lost ${lost}, duplicated ${duplicated}, out-of-order ${outOfOrder}, ` +
    `rate_limited ${rateLimited}, errors ${errors}; latency p50 ${result.latencyMs.p50} ms, ` +
    `p95 ${result.latencyMs.p95} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`,
);
const ok = lost === 0 && duplicated === 0 && outOfOrder === 0 && errors === 0 && rateLimited === 0 && delivered > 0;
process.exit(ok ? 0 : 1);

function round(/** @type {number} */ n) {
  return Math.round(n * 10) / 10;
}
