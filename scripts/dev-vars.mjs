// Runs before `wrangler dev` (`npm run dev`): makes the local FILES_SECRET
// in .dev.vars when there is none, so file uploads (protocol §11) work on a
// fresh clone with no set-up step. A deployment sets its own with
// `wrangler secret put FILES_SECRET` (README, "Deploying").
import { ensureDevSecret } from "./lib/dev-vars.mjs";

if (ensureDevSecret("FILES_SECRET").created) {
  console.error("Wrote a random FILES_SECRET to .dev.vars for local uploads.");
}
