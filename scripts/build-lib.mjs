// `npm run build`: the client library `edge-chat/client` (package.json
// "exports"), from the same sources as the page: one ES module for
// browsers, bundlers and Node >= 20 in dist/client/, and its declarations
// in dist/types/. dist/ is not committed; the tests build it first.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: ["src/client/lib/index.ts"],
  outfile: "dist/client/index.js",
  bundle: true,
  format: "esm",
  target: "es2022",
  // Browser and Node alike: only globals both have (WebSocket is passed in where it is missing).
  platform: "neutral",
  sourcemap: true,
  logLevel: "warning",
});
execFileSync("npx", ["tsc", "-p", "tsconfig.lib.json"], { stdio: "inherit" });
console.log("client library: dist/client/index.js, dist/types/client/lib/index.d.ts");
