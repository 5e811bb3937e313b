/**
 * Global setup for the Node-side suites: bundles the worker exactly as
 * `wrangler deploy` would (same esbuild settings, same entry), once per run,
 * into .wrangler/test-build/index.js. The suites then run that bundle on
 * Miniflare, so they test what would be deployed, not the TypeScript source.
 */
import { execFileSync } from "node:child_process";
import { BUILD_DIR } from "./paths";

export default function setup(): void {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", BUILD_DIR], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
}
