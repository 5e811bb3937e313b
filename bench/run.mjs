// npm run bench: edge-chat against three floors (bench/floor.js): the same
// minimal room behind the static-assets router, as edge-chat is deployed
// ("floor", the reference of the targets); without it ("floor-physical");
// and behind it, storing each relayed frame in SQLite before sending it
// ("floor-durable", what one durable write per message costs). Interleaved,
// on the same workerd, over real WebSockets on loopback.
//
//   npm run bench                         11 scenarios × 4 systems × 3 repetitions
//   npm run bench -- --reps 1 --seconds 2 --scale 0.25      (the CI smoke run)
//   npm run bench -- --only throughput --systems edge-chat,floor   (an experiment)
//   npm run bench -- --warmup 90 --only rooms        (steady state: see --warmup below)
//
// Each (scenario, system) run gets a fresh runtime, so peak RSS is its own.
// The load generator is this Node process, connected straight to workerd
// (Miniflare, no wrangler dev proxy); storage is on tmpfs. CPU is read from
// /proc for the workerd process only. Every figure is printed per system as
// the median over repetitions, and edge-chat's also as a ratio to each
// floor's from the same run. Nothing here is asserted: timings go to the
// table and to bench/results/latest.json.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { buildWorker, childRuntimes } from "../scripts/lib/harness.mjs";
import { only, onlySystems, opts } from "./args.mjs";
import { peakRssMb, round } from "./load.mjs";
import { report } from "./report.mjs";
import { PHASED, SCENARIOS } from "./scenarios.mjs";
import { SYSTEMS, useEdgeBundle } from "./systems.mjs";

/** @typedef {keyof typeof SYSTEMS} SystemName */

// Build edge-chat once exactly as deployed, to weigh it, and once with the
// metered room the scenarios run (the same code, plus row counts).
const prodBundle = buildWorker({ outDir: ".wrangler/bench-prod" });
const bundle = readFileSync(prodBundle);
useEdgeBundle(buildWorker({ outDir: ".wrangler/bench-build", entry: "bench/metered-worker.ts" }), prodBundle);
const bundleGzipKb = round(gzipSync(bundle, { level: 9 }).length / 1024, 1);

/** @typedef {Record<string, number | undefined>} Figures */
/** scenario → system → figures per rep @type {Record<string, Record<string, Figures[]>>} */
const results = {};
const started = Date.now();
/** The systems of this run: --systems, in SYSTEMS' order, or the four that are not experiments. */
const SYSTEM_NAMES = /** @type {SystemName[]} */ (Object.keys(SYSTEMS)).filter((s) =>
  onlySystems ? onlySystems.includes(s) : ["edge-chat", "floor", "floor-physical", "floor-durable"].includes(s),
);
/** The systems edge-chat is divided by. */
const FLOORS = SYSTEM_NAMES.filter((s) => s !== "edge-chat");
for (let rep = 0; rep < opts.reps; rep++) {
  for (const scenario of Object.keys(SCENARIOS).filter((s) => !only || only.includes(s))) {
    // Rotate which system goes first, so none always gets the warmer machine.
    const systems = SYSTEM_NAMES;
    const order = systems.map((_, i) => systems[(i + rep) % systems.length] ?? "edge-chat");
    const run = SCENARIOS[scenario];
    if (!run) continue;
    for (const system of order) {
      const server = await SYSTEMS[system]();
      const pids = childRuntimes();
      // --warmup: a fresh runtime runs the room's code in V8's lower tiers;
      // workerd's V8 reaches TurboFan only after 30 to 45 s of the rooms
      // load (--trace-opt). A room in a long-lived isolate runs its top
      // tier, so the warm-up (the same load on other rooms) lets the phase
      // measure that steady state. It did not move the ratios
      // (docs/benchmarks.md, "Warm rooms").
      if (opts.warmup > 0 && PHASED.has(scenario)) await run(server, pids, `warmup-${rep}`, opts.warmup);
      const t = performance.now();
      const figures = await run(server, pids, `${rep}-${Date.now().toString(36)}`, opts.seconds);
      figures.peakRssMb = round(peakRssMb(pids));
      figures.wallSeconds = round((performance.now() - t) / 1000);
      await server.stop();
      results[scenario] ??= {};
      const bySystem = results[scenario];
      bySystem[system] ??= [];
      bySystem[system].push(figures);
      process.stderr.write(`rep ${rep + 1}/${opts.reps} ${scenario} ${system}: ${JSON.stringify(figures)}\n`);
    }
  }
}

report({ results, systemNames: SYSTEM_NAMES, floors: FLOORS, bundleGzipKb, started });
