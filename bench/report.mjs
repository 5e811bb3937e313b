// npm run bench's report (bench/run.mjs): medians per system, edge-chat's
// ratio to each floor, bench/results/latest.json, the table, and the one
// check a bench makes: no lost, duplicated or out-of-order delivery.
//
// Two ratios per floor. "÷" divides the medians. "paired ÷" is the median
// of the repetitions' own ratios: the systems of one repetition run one
// after the other, within a minute, so a machine that runs slower for a
// few minutes (as this shared one does: one floor's CPU per delivery varied
// by 30 % within a run) slows both sides of a pair alike, where the
// medians may pick their values from different minutes.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { opts } from "./args.mjs";
import { round } from "./load.mjs";

/**
 * @typedef {Record<string, number | undefined>} Figures
 * @param {{ results: Record<string, Record<string, Figures[]>>, systemNames: string[], floors: string[], bundleGzipKb: number | undefined, started: number }} run
 */
export function report({ results, systemNames: SYSTEM_NAMES, floors: FLOORS, bundleGzipKb, started }) {
  // Medians and ratios.
  const median = (/** @type {Array<number | undefined>} */ xs) => {
    const v = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
    if (v.length === 0) return undefined;
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m] : ((v[m - 1] ?? 0) + (v[m] ?? 0)) / 2;
  };
  /**
   * scenario → figure → each system's median, and edge-chat's ratio to each floor's
   * @typedef {{ values: Record<string, number | undefined>, ratios: Record<string, number | undefined>, paired: Record<string, number | undefined> }} Row
   * @type {Record<string, Record<string, Row>>}
   */
  const table = {};
  const ratioOf = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) =>
    typeof a === "number" && typeof b === "number" && b !== 0 ? round(a / b, 2) : undefined;
  for (const [scenario, bySystem] of Object.entries(results)) {
    const runsOf = (/** @type {string} */ system) => bySystem[system] ?? [];
    /** @type {Record<string, Row>} */
    const rows = {};
    table[scenario] = rows;
    const keys = new Set(SYSTEM_NAMES.flatMap((system) => Object.keys(runsOf(system)[0] ?? {})));
    for (const key of keys) {
      /** @type {Record<string, number | undefined>} */
      const values = {};
      for (const system of SYSTEM_NAMES) values[system] = round(median(runsOf(system).map((f) => f[key])), 3);
      /** @type {Record<string, number | undefined>} */
      const ratios = {};
      for (const floor of FLOORS) ratios[floor] = ratioOf(values["edge-chat"], values[floor]);
      /** @type {Record<string, number | undefined>} */
      const paired = {};
      for (const floor of FLOORS) {
        const floorRuns = runsOf(floor);
        paired[floor] = round(median(runsOf("edge-chat").map((f, rep) => ratioOf(f[key], floorRuns[rep]?.[key]))), 2);
      }
      rows[key] = { values, ratios, paired };
    }
  }

  const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpuModel,
      cores: readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length,
      node: process.version,
    },
    options: opts,
    bundleGzipKb,
    minutes: round((Date.now() - started) / 60000, 1),
    table,
    runs: results,
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/latest.json", `${JSON.stringify(report, null, 2)}\n`);

  console.log(
    `\nedge-chat vs the floors: medians of ${opts.reps} interleaved repetitions, ${opts.seconds} s phases${opts.warmup > 0 ? ` after ${opts.warmup} s of warm-up` : ""}, scale ${opts.scale}`,
  );
  console.log(
    `bundle: ${bundleGzipKb} KB gzipped; machine: ${cpuModel}, ${report.machine.cores} cores, node ${process.version}\n`,
  );
  const cell = (/** @type {string} */ text) => text.padStart(18);
  console.log(
    `  ${"".padEnd(22)}${SYSTEM_NAMES.map(cell).join("")}${FLOORS.map((f) => cell(`÷ ${f}`)).join("")}${FLOORS.map((f) => cell(`paired ÷ ${f.replace("floor-", "")}`)).join("")}`,
  );
  for (const [scenario, rows] of Object.entries(table)) {
    console.log(scenario);
    for (const [key, { values, ratios, paired }] of Object.entries(rows)) {
      if (Object.values(values).every((v) => v === undefined)) continue;
      const shown = (/** @type {number | undefined} */ v, /** @type {string} */ unit = "") =>
        cell(v === undefined ? "" : `${v}${unit}`);
      console.log(
        `  ${key.padEnd(22)}${SYSTEM_NAMES.map((s) => shown(values[s])).join("")}${FLOORS.map((f) => shown(ratios[f], "×")).join("")}${FLOORS.map((f) => shown(paired[f], "×")).join("")}`,
      );
    }
  }
  console.log(
    "\n(÷: edge-chat's median ÷ each floor's; paired ÷: the median of the repetitions' ratios; full data in bench/results/latest.json)",
  );

  // Correctness, not speed: a lost, duplicated or out-of-order delivery is a bug.
  const broken = Object.entries(results).flatMap(([scenario, bySystem]) =>
    Object.entries(bySystem).flatMap(([system, runs]) =>
      runs
        .filter((/** @type {Figures} */ f) => f.lost || f.duplicated || f.outOfOrder)
        .map(() => `${scenario}/${system}`),
    ),
  );
  if (broken.length > 0) {
    console.error(`lost, duplicated or out-of-order deliveries in: ${broken.join(", ")}`);
    process.exit(1);
  }
}
