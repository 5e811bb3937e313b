// `npm run token -- --sub u1 --name Ann [--role moderator] [--rooms 'private-team*'] [--hours 8]`
//
// Prints an identity token (protocol §5.1) signed HS256 with the AUTH_SECRET
// in .dev.vars, for trying signed-in users and private rooms on `npm run dev`:
// paste it into the page's "Sign in with an identity token" box. Without a
// .dev.vars (or with the example's placeholder secret) it writes a fresh
// random secret there first; restart `npm run dev` to pick it up.
//
// A real deployment mints tokens in the host site's backend, not here (README,
// "Signed-in users").
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { ROOT } from "./lib/harness.mjs";

// The tests point this at a file of their own, so they never touch a developer's .dev.vars.
const DEV_VARS = process.env.EDGE_CHAT_DEV_VARS ?? `${ROOT}.dev.vars`;
const PLACEHOLDER = "change-me-to-at-least-32-random-bytes";

const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    name: { type: "string" },
    role: { type: "string" },
    rooms: { type: "string", multiple: true },
    hours: { type: "string", default: "8" },
    aud: { type: "string", default: "edge-chat" },
    iss: { type: "string" },
  },
});

if (!values.sub) {
  console.error(
    "usage: npm run token -- --sub <user id> [--name <display name>] [--role member|moderator|admin]\n" +
      "                        [--rooms <room or prefix*>]... [--hours 8] [--aud edge-chat] [--iss <issuer>]",
  );
  process.exit(2);
}
const hours = Number(values.hours);
if (!(hours > 0)) throw new Error("--hours must be a positive number");

/** @type {Record<string, unknown>} */
const claims = { sub: values.sub };
if (values.name) claims.name = values.name;
if (values.role) claims.role = values.role;
// `--rooms a,b` and `--rooms a --rooms b` both work.
if (values.rooms) claims.rooms = values.rooms.flatMap((r) => r.split(",")).map((r) => r.trim());

let token = new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setAudience(values.aud)
  .setIssuedAt()
  .setExpirationTime(`${hours}h`);
if (values.iss) token = token.setIssuer(values.iss);
console.log(await token.sign(new TextEncoder().encode(devSecret())));

/** AUTH_SECRET from .dev.vars, created (with a random value) when missing or still the example's. */
function devSecret() {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const current = /^AUTH_SECRET=(.*)$/m
    .exec(text)?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, "$1");
  if (current && current !== PLACEHOLDER) return current;
  const secret = randomBytes(32).toString("base64url");
  const line = `AUTH_SECRET=${secret}`;
  let next = current === undefined ? `${text}${text && !text.endsWith("\n") ? "\n" : ""}${line}\n` : text;
  if (current !== undefined) next = text.replace(/^AUTH_SECRET=.*$/m, line);
  if (!/^API_TOKEN=/m.test(next)) next += `API_TOKEN=${randomBytes(32).toString("base64url")}\n`;
  writeFileSync(DEV_VARS, next);
  console.error("Wrote a new random AUTH_SECRET to .dev.vars; restart `npm run dev` so it is used.");
  return secret;
}
