// npm run bench:core: what the room's own JavaScript costs per chat, without
// the runtime around it (bench/core-chat.ts says what runs). The rooms
// scenario of npm run bench prices the whole runtime, and on this machine
// its ratio moves by a tenth between runs of the same code. This figure is
// steadier (runs of the same code agree within about 7 %), so it can tell
// whether a change to the chat path pays. It is not the runtime's cost:
// sockets, SQLite and commits come on top (docs/benchmarks.md). No timing
// is asserted; a refused chat or a missing send fails the run.
//
// By default the chats run in Node, timed with its clock. With --workerd
// they run inside workerd (one Worker, no Durable Object: the same code over
// the same memory stores), in the V8 that runs the room, timed by the
// runtime process's CPU (a Worker's own clock does not move while it runs),
// which Linux counts in 10 ms ticks: keep rounds at tens of thousands of chats.
//
//   npm run bench:core                                  200,000 warm-up chats, then 7 rounds of 50,000
//   npm run bench:core -- --workerd                     the same inside workerd
//   npm run bench:core -- --warmup 20000 --rounds 3 --chats 10000     (a quick look)
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { childRuntimes, ROOT } from "../scripts/lib/harness.mjs";
import { numericArgs } from "../scripts/lib/stats.mjs";
import { cpuMs, round } from "./load.mjs";

const opts = numericArgs({ warmup: 200_000, rounds: 7, chats: 50_000 });
const inWorkerd = process.argv.includes("--workerd");
const outDir = join(ROOT, ".wrangler", "bench-core");
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, "core-chat.mjs");
await build({
  entryPoints: [join(ROOT, "bench", "core-chat.ts")],
  bundle: true,
  // Node's built-ins stay imports: workerd provides the few the memory stores use (nodejs_compat).
  platform: "node",
  format: "esm",
  target: "es2022",
  outfile,
  logLevel: "warning",
});

/**
 * Runs chats somewhere; each call returns the time they took (ms) and the sends so far.
 * @typedef {{ chats(count: number): Promise<{ ms: number, sent: number, errors: number }>, stop(): Promise<void> }} Runner
 */

/** @returns {Promise<Runner>} */
async function inNode() {
  /** @type {{ coreRooms: () => { chats(count: number): void, readonly sent: number, readonly errors: number } }} */
  const { coreRooms } = await import(pathToFileURL(outfile).href);
  const run = coreRooms();
  return {
    async chats(count) {
      const t0 = performance.now();
      run.chats(count);
      return { ms: performance.now() - t0, sent: run.sent, errors: run.errors };
    },
    async stop() {},
  };
}

/** @returns {Promise<Runner>} */
async function inRuntime() {
  const before = new Set(childRuntimes());
  const mf = new Miniflare({
    modules: [
      {
        type: "ESModule",
        path: "main.mjs",
        contents: `import { coreRooms } from "./core-chat.mjs";
let run;
export default {
  fetch(request) {
    run ??= coreRooms();
    run.chats(Number(new URL(request.url).searchParams.get("chats")));
    return Response.json({ sent: run.sent, errors: run.errors });
  },
};`,
      },
      { type: "ESModule", path: "core-chat.mjs", contents: readFileSync(outfile, "utf8") },
    ],
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["nodejs_compat"],
    host: "127.0.0.1",
    port: 0,
  });
  await mf.ready;
  const pid = childRuntimes().find((p) => !before.has(p));
  if (pid === undefined) throw new Error("the runtime's process was not found");
  return {
    async chats(count) {
      const cpu0 = cpuMs([pid]);
      const answer = await mf.dispatchFetch(`http://core/?chats=${count}`);
      const counts = /** @type {{ sent: number, errors: number }} */ (await answer.json());
      return { ms: cpuMs([pid]) - cpu0, ...counts };
    },
    stop: () => mf.dispose(),
  };
}

const runner = inWorkerd ? await inRuntime() : await inNode();
// V8's top tier takes its time; the rounds measure code that has reached it.
// In workerd the warm-up goes in slices, as one request of them all could meet a limit.
let last = { ms: 0, sent: 0, errors: 0 };
for (let done = 0; done < opts.warmup; done += opts.chats) {
  last = await runner.chats(Math.min(opts.chats, opts.warmup - done));
}
/** @type {number[]} */
const perChat = [];
for (let r = 0; r < opts.rounds; r++) {
  last = await runner.chats(opts.chats);
  perChat.push((last.ms * 1000) / opts.chats);
}
await runner.stop();
const total = opts.warmup + opts.rounds * opts.chats;
if (last.errors > 0) throw new Error(`${last.errors} chats were refused: the figure would not be the chat path's`);
// Each chat reaches the 8 members of its room.
if (last.sent !== total * 8) throw new Error(`expected ${total * 8} sends, saw ${last.sent}`);
const sorted = perChat.toSorted((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
const where = inWorkerd ? "workerd (CPU of the runtime process)" : `node ${process.version}`;
console.log(
  `room core, chat path: ${round(median, 2)} µs a chat (median of ${opts.rounds} rounds of ${opts.chats}; ` +
    `range ${round(sorted[0] ?? Number.NaN, 2)}–${round(sorted.at(-1) ?? Number.NaN, 2)}; ` +
    `after ${opts.warmup} warm-up chats; ${where})`,
);
