// npm run bench:archive: what history beyond the ring and search (§8) cost.
// One edge-chat room (the metered bundle) is filled with 100,000 retained
// messages through a socket; then the figures: SQLite rows written per chat
// (with the search index), the room's database size, and the latency of
// `history` pages at random cursors and of `search` for common, rare and
// absent words (p50 / p99 over the answers, measured at the client on
// loopback). Printed, and written to bench/results/archive.json; nothing
// is asserted.
//
//   npm run bench:archive                       100,000 messages, 300 of each read
//   npm run bench:archive -- --messages 5000 --reads 50      (the CI smoke run)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import WebSocket from "ws";
import { buildWorker } from "../scripts/lib/harness.mjs";
import { numericArgs, percentile } from "../scripts/lib/stats.mjs";
import { connectInspector } from "./inspector.mjs";
import { round } from "./load.mjs";
import { startEdge, useEdgeBundle } from "./systems.mjs";

const opts = numericArgs({ messages: 100_000, reads: 300 });
useEdgeBundle(buildWorker({ outDir: ".wrangler/bench-build", entry: "bench/metered-worker.ts" }));
// The inspector: the size of the isolate's JavaScript heap, with its garbage
// and after a full collection (bench/inspector.mjs).
const INSPECTOR_PORT = 9332;
const server = await startEdge({ inspectorPort: INSPECTOR_PORT });
const inspector = await connectInspector(INSPECTOR_PORT);
/** The JavaScript heap in use, in MB: every object the isolate holds, and garbage not yet collected. */
const jsHeapMb = async () => round(Number((await inspector.call("Runtime.getHeapUsage")).usedSize) / 1024 / 1024, 1);
const room = `archive-${Date.now().toString(36)}`;
// Words with known frequencies: every message has "note", one in ten "weekly",
// one in a thousand "quarterly"; "absent" is in none.
const text = (/** @type {number} */ i) =>
  `note ${i} about the ${i % 10 === 0 ? "weekly" : "daily"} ${i % 1000 === 0 ? "quarterly" : "plan"} café review`;

const ws = new WebSocket(server.wsUrl(room), { perMessageDeflate: false });
/** @typedef {{ type: string }} Frame */
/** @type {Array<(frame: Frame) => void>} */
const waiting = [];
ws.on("message", (data) => {
  const frame = JSON.parse(data.toString());
  const next = waiting.shift();
  if (next) next(frame);
});
/** @returns {Promise<Frame>} */
const answer = () => new Promise((resolve) => waiting.push(resolve));
await new Promise((resolve) => ws.once("open", resolve));
ws.send(JSON.stringify({ type: "join", name: "Filler" }));
await answer();

// Fill in windows of 500 outstanding chats (each one's echo is its answer).
const MB = 1024 * 1024;
const rssBefore = server.rssBytes() / MB;
const heapBefore = await jsHeapMb();
const rows0 = await server.rowsWritten(room);
const by0 = await server.writtenBy(room);
const t0 = performance.now();
for (let sent = 0; sent < opts.messages; ) {
  const window = Math.min(500, opts.messages - sent);
  const echoes = Array.from({ length: window }, () => answer());
  for (let i = 0; i < window; i++) ws.send(JSON.stringify({ type: "chat", text: text(++sent) }));
  await Promise.all(echoes);
}
const fillSeconds = (performance.now() - t0) / 1000;
// The runtime's resident memory once the archive is stored: a room that
// held its archive in memory would grow by about the database's size.
const rssAfterFill = server.rssBytes() / MB;
/** What the resident memory is (Linux /proc): the heap (anonymous), mapped files (the database, if mapped), shared memory. */
const rssParts = () => {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const kb = (/** @type {string} */ key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { anon: round(kb("RssAnon") / 1024), file: round(kb("RssFile") / 1024), shmem: round(kb("RssShmem") / 1024) };
};
const partsAfterFill = rssParts();
const heapAfterFill = await jsHeapMb();
// What the room keeps once garbage is gone, its socket still open: a room
// that held its archive in memory would keep it here.
await inspector.collectGarbage();
const heapAfterCollection = await jsHeapMb();
const rssAfterCollection = round(server.rssBytes() / MB);
const rowsPerChat = ((await server.rowsWritten(room)) - rows0) / opts.messages;
/** Rows per chat by statement: what each row of rowsWrittenPerChat is. */
const rowsPerChatBy = Object.fromEntries(
  Object.entries(await server.writtenBy(room)).map(([what, n]) => [
    what,
    round((n - (by0[what] ?? 0)) / opts.messages, 3),
  ]),
);

/** Latencies (ms) of `reads` requests made one at a time. @param {() => object} frame */
async function timed(frame) {
  const ms = [];
  for (let i = 0; i < opts.reads; i++) {
    const t = performance.now();
    ws.send(JSON.stringify(frame()));
    const got = await answer();
    if (got.type === "error") throw new Error(`refused: ${JSON.stringify(got)}`);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: round(percentile(ms, 50), 2), p99: round(percentile(ms, 99), 2) };
}

const random = () => 1 + Math.floor(Math.random() * opts.messages);
const figures = {
  messages: opts.messages,
  fillSeconds: round(fillSeconds),
  rowsWrittenPerChat: round(rowsPerChat, 2),
  rowsPerChatBy,
  storageMb: round((await server.storageBytes(room)) / MB, 1),
  /** @type {{ beforeFill: number, afterFill: number, partsAfterFill: object, afterCollection: number, afterReads?: number }} */
  rssMb: {
    beforeFill: round(rssBefore),
    afterFill: round(rssAfterFill),
    partsAfterFill,
    afterCollection: rssAfterCollection,
  },
  jsHeapMb: { beforeFill: heapBefore, afterFill: heapAfterFill, afterCollection: heapAfterCollection },
  historyBefore: await timed(() => ({ type: "history", before: random(), limit: 100 })),
  historyAfter: await timed(() => ({ type: "history", after: random(), limit: 100 })),
  searchCommon: await timed(() => ({ type: "search", q: "note", limit: 20 })),
  searchCommonPaged: await timed(() => ({ type: "search", q: "note review", before: random(), limit: 20 })),
  searchRare: await timed(() => ({ type: "search", q: "quarterly caf", limit: 20 })),
  searchTenth: await timed(() => ({ type: "search", q: "weekly", before: random(), limit: 100 })),
  searchAbsent: await timed(() => ({ type: "search", q: "absent", limit: 20 })),
};
figures.rssMb = { ...figures.rssMb, afterReads: round(server.rssBytes() / MB) };
ws.close();
inspector.close();
await server.stop();
console.log(JSON.stringify(figures, null, 2));
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/archive.json",
  `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`,
);
