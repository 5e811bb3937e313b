import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Three suites, one runner:
// - workers:     inside workerd (the vitest pool), for the room object's
//                internals: restore from attachments, storage rows written.
// - node:        the bundled worker on Miniflare, spoken to over real
//                WebSockets on 127.0.0.1, exactly as an outside client would.
// - hibernation: like node, but waits out the runtime's real 10 s eviction;
//                slow, so it is its own script (npm run test:hibernation).
// - e2e:         the browser client in Debian's Chromium (playwright-core)
//                against the same bundle (npm run test:e2e).
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // In-runtime tests open sockets with no client address, so every
            // one counts as the same address ("unknown"); a 300-socket room
            // needs more than the default 100 per address.
            miniflare: {
              bindings: { MAX_SOCKETS_PER_ADDRESS: 1000, FILES_SECRET: "workers-test-files-secret-0123456789abcdef" },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // itty-durable ships ES module files in a package without
          // "type": "module", behind a CommonJS index; esbuild (wrangler)
          // bundles that fine, but vitest must be told to transform it too.
          server: { deps: { inline: ["itty-durable"] } },
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/build-worker.ts"],
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "hibernation",
          include: ["test/hibernation/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/build-worker.ts"],
          testTimeout: 90_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/build-worker.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // One browser at a time: two cores, and screenshots of a calm page.
          fileParallelism: false,
          // A page that renders after a fetch can take over vitest's default
          // second on a loaded two-core machine (CI ran into it once).
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
