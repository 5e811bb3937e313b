// npm run bench's command-line options (bench/run.mjs has the usage).
import { numericArgs } from "../scripts/lib/stats.mjs";

// --warmup S runs each phased scenario for S seconds first, unmeasured, on
// the same runtime (bench/run.mjs says why).
export const opts = numericArgs({ reps: 3, seconds: 10, scale: 1, warmup: 0 });
// --only fanout,rooms runs a subset of the scenarios.
const onlyIndex = process.argv.indexOf("--only");
export const only = onlyIndex > 0 ? (process.argv[onlyIndex + 1] ?? "").split(",") : undefined;
// --systems edge-chat,floor runs a subset of the systems (for experiments; ratios need both).
const systemsIndex = process.argv.indexOf("--systems");
export const onlySystems = systemsIndex > 0 ? (process.argv[systemsIndex + 1] ?? "").split(",") : undefined;
export const scaled = (/** @type {number} */ n) => Math.max(2, Math.round(n * opts.scale));
