// Fails when worker-configuration.d.ts is not what `npm run types` generates.
// (`wrangler types --check` ignores --env-file and reads a local .dev.vars
// instead, so it cannot check a file generated from .dev.vars.example.)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const FILE = "worker-configuration.d.ts";
const before = readFileSync(FILE, "utf8");
execFileSync("npm", ["run", "--silent", "types"], { stdio: ["ignore", "ignore", "inherit"] });
if (readFileSync(FILE, "utf8") !== before) {
  console.error(`${FILE} was out of date and has been regenerated; review and commit it.`);
  process.exit(1);
}
