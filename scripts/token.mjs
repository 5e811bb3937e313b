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
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { ensureDevSecret } from "./lib/dev-vars.mjs";

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
  const secret = ensureDevSecret("AUTH_SECRET");
  ensureDevSecret("API_TOKEN");
  if (secret.created) {
    console.error("Wrote a new random AUTH_SECRET to .dev.vars; restart `npm run dev` so it is used.");
  }
  return secret.value;
}
