/**
 * Global setup for the Node-side suites: bundles the worker exactly as
 * `wrangler deploy` would (same esbuild settings, same entry, the client's
 * [build] step), once per run, into .wrangler/test-build/index.js. The
 * suites then run that bundle on Miniflare, so they test what would be
 * deployed, not the TypeScript source.
 */
import { buildWorker } from "../../scripts/lib/harness.mjs";
import { BUILD_DIR } from "./paths";

export default function setup(): void {
  buildWorker({ outDir: BUILD_DIR });
}
