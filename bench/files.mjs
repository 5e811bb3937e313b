// npm run bench:files: what file attachments (protocol §11) cost. Nothing is
// asserted; the figures are printed and written to bench/results/files.json.
//
// - Upload throughput of a file of --mb MB (10 by default), with a
//   Content-Length and chunked, --reps times each: MB/s at the client on
//   loopback, and how far the workerd process's resident memory rose above
//   where it was before the upload (sampled every 5 ms). The Worker streams
//   the body, so the rise should not follow the file's size: the same
//   figure for a 1 MB file is printed beside it. workerd also runs
//   Miniflare's R2 here, so the rise is an upper bound for the Worker.
// - What a `chat` with one file adds over a plain `chat`: workerd CPU per
//   message over --chats chats of each kind, sent one at a time.
//
//   npm run bench:files                      (10 MB, 5 reps, 500 chats)
//   npm run bench:files -- --mb 2 --reps 1 --chats 50      (the CI smoke run)
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildWorker, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { numericArgs, percentile } from "../scripts/lib/stats.mjs";
import { cpuMs, round } from "./load.mjs";

const opts = numericArgs({ mb: 10, reps: 5, chats: 500 });
const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "edge-chat-bench-files-"));
const server = await startWorker({
  scriptPath: buildWorker({ outDir: ".wrangler/bench-build" }),
  persist: dir,
  vars: {
    ...ONE_MACHINE_LOAD,
    RATE_BURST: 1_000_000,
    RATE_PER_SEC: 1_000_000,
    FILES_SECRET: "bench-files-secret-0123456789abcdef-0123456789",
    MAX_UPLOAD_BYTES: Math.max(opts.mb, 1) * MB,
    UPLOADS_PER_HOUR: 1_000_000,
  },
});
const found = server.pid;
if (found === undefined) throw new Error("no workerd process to measure");
/** @type {number} */
const pid = found;

const room = `files-${Date.now().toString(36)}`;
const ws = new WebSocket(server.wsUrl(room), { perMessageDeflate: false });
/** @type {Array<(frame: any) => void>} */
const waiting = [];
ws.on("message", (data) => waiting.shift()?.(JSON.parse(data.toString())));
const answer = () => new Promise((resolve) => waiting.push(resolve));
await new Promise((resolve) => ws.once("open", resolve));
ws.send(JSON.stringify({ type: "join", name: "Bench", protocol: 3 }));
const { token } = /** @type {{ token: string }} */ (await answer());

/** One upload; its MB/s and the rise of resident memory while it ran. @param {number} mb @param {boolean} chunked */
async function upload(mb, chunked) {
  const bytes = randomBytes(mb * MB);
  const before = rssMb();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 5);
  const body = chunked
    ? new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
          controller.close();
        },
      })
    : bytes;
  const t = performance.now();
  const res = await fetch(`${server.origin}/api/rooms/${room}/files`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/plain", "X-File-Name": "bench.txt" },
    body,
    ...(chunked ? { duplex: "half" } : {}),
  });
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  const { file } = await res.json();
  return { mbPerSec: mb / seconds, rssRiseMb: Math.max(0, peak - before), id: file.id };
}

function rssMb() {
  return server.rssBytes() / MB;
}

// Warm-up: the first upload also starts R2 and compiles the upload path.
await upload(1, false);
await upload(1, true);

/** @type {Record<string, { mbPerSec: number, rssRiseMbMedian: number, rssRiseMbMax: number }>} */
const uploads = {};
for (const [label, mb, chunked] of [
  [`${opts.mb} MB, Content-Length`, opts.mb, false],
  [`${opts.mb} MB, chunked`, opts.mb, true],
  ["1 MB, Content-Length", 1, false],
  ["1 MB, chunked", 1, true],
]) {
  const runs = [];
  for (let i = 0; i < opts.reps; i++)
    runs.push(await upload(/** @type {number} */ (mb), /** @type {boolean} */ (chunked)));
  uploads[/** @type {string} */ (label)] = {
    mbPerSec: round(
      percentile(
        runs.map((r) => r.mbPerSec),
        50,
      ),
    ),
    rssRiseMbMedian: round(
      percentile(
        runs.map((r) => r.rssRiseMb),
        50,
      ),
    ),
    rssRiseMbMax: round(Math.max(...runs.map((r) => r.rssRiseMb))),
  };
}

/** CPU ms per chat over `n` chats, one at a time; `files` makes each carry one new upload. @param {boolean} files */
async function chatCost(files) {
  const ids = [];
  if (files) {
    for (let i = 0; i < opts.chats; i++) ids.push((await upload(0.001, false)).id);
  }
  const cpu0 = cpuMs([pid]);
  for (let i = 0; i < opts.chats; i++) {
    const echo = answer();
    ws.send(JSON.stringify({ type: "chat", text: `message ${i}`, ...(files ? { files: [ids[i]] } : {}) }));
    await echo;
  }
  return (cpuMs([pid]) - cpu0) / opts.chats;
}

const plain = await chatCost(false);
const withFile = await chatCost(true);
const plainAgain = await chatCost(false);
const chat = {
  plainCpuMs: round((plain + plainAgain) / 2),
  withOneFileCpuMs: round(withFile),
  addedCpuMs: round(withFile - (plain + plainAgain) / 2),
};

const result = { when: new Date().toISOString(), options: opts, uploads, chat };
console.log(JSON.stringify(result, null, 2));
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/files.json", `${JSON.stringify(result, null, 2)}\n`);
ws.close();
await server.stop();
rmSync(dir, { recursive: true, force: true });
