// Bundles the browser client (src/client/app.ts, with the protocol's rules
// from src/shared/) into public/app.js. wrangler runs this as its [build]
// step before `wrangler dev` and `wrangler deploy`, so neither needs
// anything else; the tests' bundle (`wrangler deploy --dry-run`) runs it too.
// esbuild is the bundler wrangler itself uses, pinned to the same version.
import { build } from "esbuild";

const result = await build({
  entryPoints: ["src/client/app.ts"],
  outfile: "public/app.js",
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  // Only the browser's own APIs: a Node built-in here is a mistake.
  platform: "browser",
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`client: public/app.js, ${bytes} bytes`);
