// The local secrets of `npm run dev`, kept in .dev.vars (git-ignored): a
// secret that is missing, or still the example's placeholder, is written
// with a fresh random value. `npm run dev` (scripts/dev-vars.mjs) makes
// FILES_SECRET so uploads work on a fresh clone; `npm run token` makes
// AUTH_SECRET so its tokens sign in.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ROOT } from "./harness.mjs";

// The tests point this at a file of their own, so they never touch a developer's .dev.vars.
export const DEV_VARS = process.env.EDGE_CHAT_DEV_VARS ?? `${ROOT}.dev.vars`;
const PLACEHOLDER = /^change-me/;

/**
 * The value of `name` in .dev.vars, written first (32 random bytes) when
 * absent or a placeholder. Returns the value and whether it was just made.
 * @param {string} name
 * @returns {{ value: string, created: boolean }}
 */
export function ensureDevSecret(name) {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const pattern = new RegExp(`^${name}=(.*)$`, "m");
  const current = pattern
    .exec(text)?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, "$1");
  if (current && !PLACEHOLDER.test(current)) return { value: current, created: false };
  const value = randomBytes(32).toString("base64url");
  const line = `${name}=${value}`;
  const next =
    current === undefined ? `${text}${text && !text.endsWith("\n") ? "\n" : ""}${line}\n` : text.replace(pattern, line);
  writeFileSync(DEV_VARS, next);
  return { value, created: true };
}
