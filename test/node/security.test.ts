/**
 * What must never leak or be forged: reclaim tokens (unguessable, never in
 * a broadcast, a log line or the HTTP API), the name a token protects, and
 * message text in the logs. Plus the headers that harden the page and API.
 */
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";

const suite = chatSuite({ vars: { API_TOKEN: "api-secret-for-tests-0123456789abcdef" } });

describe("reclaim tokens", () => {
  it("are 144 random bits (24 base64url characters), different for every join", async () => {
    const room = freshRoom();
    const clients = await Promise.all(Array.from({ length: 40 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    const tokens = (await Promise.all(clients.map((c, i) => c.join(`u${i}`)))).map((w) => w.token);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
    await Promise.all(clients.map((c) => c.close()));
  });

  it("never displace the holder when wrong, however close to the real one", async () => {
    const room = freshRoom();
    const ann = await ChatClient.connect(suite.server.wsUrl(room));
    const { token } = await ann.join("Ann");
    const near = [
      token.slice(0, -1),
      `${token}A`,
      token.toLowerCase() === token ? token.toUpperCase() : token.toLowerCase(),
      `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`,
      "",
      " ".repeat(24),
    ];
    for (const guess of near) {
      const thief = await ChatClient.connect(suite.server.wsUrl(room));
      thief.send({ type: "join", name: "Ann", token: guess });
      const [answer] = await thief.sync();
      expect(answer).toMatchObject({ type: "error", code: "name_taken" });
      await thief.close();
    }
    // Ann was never disturbed.
    expect(await ann.sync()).toEqual([]);
    await ann.close();
  });

  it("appear in no broadcast, no log line and no HTTP answer, and message text appears in no log", async () => {
    const room = freshRoom();
    const ann = await ChatClient.connect(suite.server.wsUrl(room));
    const ben = await ChatClient.connect(suite.server.wsUrl(room));
    const annWelcome = await ann.join("Ann");
    const benWelcome = await ben.join("Ben");
    const secretText = "the launch code is 0000";
    const dmText = "whisper whisper";
    ann.send({ type: "chat", text: secretText, id: "c1" });
    ann.send({ type: "dm", to: "Ben", text: dmText });
    ann.send({ type: "typing" });
    // Ann reclaims her name from a new socket (the old one gets `replaced`).
    const ann2 = await ChatClient.connect(suite.server.wsUrl(room));
    await ann2.join("Ann", { token: annWelcome.token, since: 0 });
    ann2.send({ type: "leave" });
    await ann2.sync();
    const benSaw: ServerFrame[] = await ben.sync();
    const api = await Promise.all(
      [`/api/rooms/${room}`, `/api/rooms/${room}/messages`, "/api/rooms"].map(async (p) =>
        (await suite.server.http(p)).text(),
      ),
    );
    const everything = [...benSaw.map((f) => JSON.stringify(f)), ...api, ...suite.server.logs].join("\n");
    expect(benSaw.some((f) => f.type === "chat" && f.text === secretText)).toBe(true); // the probe saw traffic
    for (const token of [annWelcome.token, benWelcome.token]) expect(everything).not.toContain(token);
    expect(suite.server.logs.join("\n")).not.toContain(secretText);
    expect(suite.server.logs.join("\n")).not.toContain(dmText);
    await Promise.all([ann, ben, ann2].map((c) => c.close()));
  });
});

describe("hardening headers", () => {
  it("serve the page with a strict CSP, nosniff, no framing and a referrer policy", async () => {
    const res = await suite.server.http("/");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    // The client's script and stylesheet are files, so 'self' covers them;
    // the script is the bundle of src/client with the shared protocol rules.
    expect(await (await suite.server.http("/app.js")).text()).toContain("Room names are 1 to 64 characters");
  });

  it("serve the API's JSON with nosniff and no framing (Hono's secureHeaders)", async () => {
    for (const path of ["/health", "/api/rooms"]) {
      const res = await suite.server.http(path);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    }
  });
});
