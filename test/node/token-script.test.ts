/**
 * `npm run token` (scripts/token.mjs), the newcomer's way to a signed-in
 * user on `npm run dev`: it makes a secret when there is none, and the
 * token it prints joins a server that runs with that secret.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { ROOT } from "../support/paths";
import { startChat } from "../support/server";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function runToken(devVars: string, ...args: string[]): string {
  return execFileSync("node", ["scripts/token.mjs", ...args], {
    cwd: ROOT,
    env: { ...process.env, EDGE_CHAT_DEV_VARS: devVars },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

describe("npm run token", () => {
  it("writes a random AUTH_SECRET when .dev.vars has none, and prints a token that signs in with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-chat-token-"));
    dirs.push(dir);
    const devVars = join(dir, ".dev.vars");
    writeFileSync(devVars, "AUTH_SECRET=change-me-to-at-least-32-random-bytes\n");
    const token = runToken(devVars, "--sub", "u1", "--name", "Ann", "--role", "moderator", "--rooms", "private-team*");
    const secret = /^AUTH_SECRET=(.+)$/m.exec(readFileSync(devVars, "utf8"))?.[1];
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The same file gives the same secret the next time.
    runToken(devVars, "--sub", "u2");
    expect(/^AUTH_SECRET=(.+)$/m.exec(readFileSync(devVars, "utf8"))?.[1]).toBe(secret);

    const server = await startChat({ vars: { AUTH_SECRET: secret ?? "" } });
    try {
      const c = await ChatClient.connect(server.wsUrl(freshRoom("private-team")));
      const welcome = await c.signIn(token);
      expect([welcome.name, welcome.user, welcome.role]).toEqual(["Ann", "u1", "moderator"]);
    } finally {
      await server.stop();
    }
  });
});
