// The worker as it would be deployed (the bundle of `wrangler deploy
// --dry-run`), run on Miniflare on a loopback port, for the scripts that are
// not tests: soak, bench, screenshot. No wrangler dev proxy in between, so
// the load generator talks straight to the runtime.
import { execFileSync } from "node:child_process";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/**
 * Every client of a local load run comes from 127.0.0.1, one address. Runs
 * that play many people at once (soak, bench, the storm tests) raise the
 * per-address limits of protocol §2.4 with these, as the protocol says a
 * load test from one machine should.
 */
export const ONE_MACHINE_LOAD = Object.freeze({
  MAX_SOCKETS_PER_ADDRESS: 100_000,
  MAX_UNJOINED_SOCKETS: 100_000,
  ADDRESS_RATE_BURST: 100_000,
  ADDRESS_RATE_PER_SEC: 100_000,
  JOINS_PER_MINUTE: 100_000,
});

/**
 * @param {{ vars?: Record<string, string | number>, outDir?: string, persist?: string | false, build?: boolean, inspectorPort?: number }} [options]
 *   build: false reuses the bundle already in outDir.
 */
export async function startLocal({
  vars = {},
  outDir = ".wrangler/script-build",
  persist = false,
  build = true,
  inspectorPort,
} = {}) {
  if (build)
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outDir], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
  const { workerOptions } = unstable_getMiniflareWorkerOptions("wrangler.toml");
  const mf = new Miniflare({
    ...workerOptions,
    modules: true,
    scriptPath: `${outDir}/index.js`,
    bindings: { ...workerOptions.bindings, ...vars },
    host: "127.0.0.1",
    port: 0,
    durableObjectsPersist: persist,
    ...(inspectorPort ? { inspectorPort } : {}),
  });
  const origin = (await mf.ready).origin;
  return {
    mf,
    origin,
    wsUrl: (/** @type {string} */ room) => `${origin.replace(/^http/, "ws")}/chat/${room}`,
    stop: () => mf.dispose(),
  };
}

/** Reads `--name value` flags into numbers, with defaults. */
export function numericArgs(/** @type {Record<string, number>} */ defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]?.replace(/^--/, "");
    if (key && key in out) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value)) throw new Error(`--${key} needs a number`);
      out[key] = value;
    }
  }
  return out;
}

/** The p-th percentile (0..100) of sorted numbers. */
export function percentile(/** @type {number[]} */ sorted, /** @type {number} */ p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
