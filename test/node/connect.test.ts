/**
 * Protocol §1 (connecting) over real sockets against the bundled worker on
 * Miniflare: what needs a real handshake (Origin, accepted sockets, the
 * static client, vars). The routing table itself, which needs no TCP, is
 * test/workers/routes.test.ts, in process. Nothing here proves anything
 * about deployed routing in front of the Worker.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, type Refusal, startChat } from "../support/server";

const suite = chatSuite();
const allowingSuite = chatSuite({ vars: { ALLOWED_ORIGINS: "https://friend.example, https://other.example/" } });

/** The status and error code of a refusal, after checking it is the protocol's JSON shape. */
function errorOf(res: Refusal): { status: number; error: unknown } {
  expect(res.contentType).toContain("application/json");
  expect(res.body).toEqual({ error: expect.any(String), message: expect.any(String) });
  const body = res.body;
  return {
    status: res.status,
    error: typeof body === "object" && body !== null && "error" in body ? body.error : body,
  };
}

describe("GET /chat/:room", () => {
  it("accepts a 64-character room name and refuses a 65-character one", async () => {
    const ok = await ChatClient.connect(suite.server.wsUrl(`a${"b".repeat(63)}`));
    await ok.close();
    const res = await suite.server.handshake(`/chat/a${"b".repeat(64)}`);
    expect(errorOf(res)).toMatchObject({ status: 400, error: "invalid_room" });
  });

  it("refuses a browser Origin of another site with 403 forbidden_origin", async () => {
    await expect(
      ChatClient.connect(suite.server.wsUrl(freshRoom()), { Origin: "https://evil.example" }),
    ).rejects.toThrow("handshake refused: 403");
    const res = await suite.server.handshake(`/chat/${freshRoom()}`, { Origin: "https://evil.example" });
    expect(errorOf(res)).toMatchObject({ status: 403, error: "forbidden_origin" });
  });

  it("refuses the opaque origin `null` (sandboxed frames, file: pages)", async () => {
    const res = await suite.server.handshake(`/chat/${freshRoom()}`, { Origin: "null" });
    expect(errorOf(res)).toMatchObject({ status: 403, error: "forbidden_origin" });
  });

  it("accepts the request's own origin", async () => {
    const client = await ChatClient.connect(suite.server.wsUrl(freshRoom()), { Origin: suite.server.origin });
    expect((await client.join("Ann")).name).toBe("Ann");
    await client.close();
  });

  it("declines the permessage-deflate that browsers offer: every frame goes out uncompressed", async () => {
    const client = await ChatClient.connect(suite.server.wsUrl(freshRoom()), {}, undefined, true);
    expect(client.ws.extensions).toBe("");
    expect((await client.join("Ann")).name).toBe("Ann");
    await client.close();
  });

  it("accepts a client that sends no Origin at all", async () => {
    const client = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    expect((await client.join("Bot")).name).toBe("Bot");
    await client.close();
  });

  it("accepts origins listed in ALLOWED_ORIGINS, however the entry is spelled", async () => {
    for (const origin of ["https://friend.example", "https://other.example"]) {
      const room = freshRoom();
      const client = await ChatClient.connect(allowingSuite.server.wsUrl(room), { Origin: origin });
      expect(await client.join("Ann")).toMatchObject({ room, name: "Ann" });
      await client.close();
    }
    await expect(
      ChatClient.connect(allowingSuite.server.wsUrl(freshRoom()), { Origin: "https://evil.example" }),
    ).rejects.toThrow("403");
  });

  it("maps one room name to one object: two sockets in the same room see each other", async () => {
    const room = freshRoom();
    const a = await ChatClient.connect(suite.server.wsUrl(room));
    const b = await ChatClient.connect(suite.server.wsUrl(room));
    await a.join("Ann");
    expect((await b.join("Ben")).users).toEqual(["Ann", "Ben"]);
    await Promise.all([a.close(), b.close()]);
  });

  it("treats room names case-sensitively: Room and room are different rooms", async () => {
    const base = freshRoom("Case");
    const upper = await ChatClient.connect(suite.server.wsUrl(base));
    const lower = await ChatClient.connect(suite.server.wsUrl(base.toLowerCase()));
    await upper.join("Ann");
    expect((await lower.join("Ann")).users).toEqual(["Ann"]);
    await Promise.all([upper.close(), lower.close()]);
  });
});

describe("configuration", () => {
  it("refuses sockets with 500 and logs which var is invalid when a limit is not a number", async () => {
    const broken = await startChat({ vars: { HISTORY_LIMIT: "lots" } });
    try {
      const res = await broken.handshake(`/chat/${freshRoom()}`);
      expect(errorOf(res)).toMatchObject({ status: 500, error: "internal_error" });
      expect(JSON.stringify(res.body)).not.toContain("HISTORY_LIMIT");
      expect(broken.logs.join("\n")).toContain('Invalid HISTORY_LIMIT: "lots"');
    } finally {
      await broken.stop();
    }
  });

  it("accepts limits given as strings, as `wrangler dev --var` delivers them", async () => {
    const custom = await startChat({ vars: { MAX_NAME_CHARS: "3" } });
    try {
      const c = await ChatClient.connect(custom.wsUrl(freshRoom()));
      c.send({ type: "join", name: "Anna" });
      expect(await c.sync()).toEqual([expect.objectContaining({ code: "name_invalid" })]);
      expect((await c.join("Ann")).name).toBe("Ann");
      await c.close();
    } finally {
      await custom.stop();
    }
  });
});

describe("other routes", () => {
  it("serves the browser client from public/ at /", async () => {
    const res = await suite.server.http("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("edge-chat");
  });

  it("serves the page with a Content-Security-Policy that forbids inline script", async () => {
    const res = await suite.server.http("/");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers an unknown static path with 404", async () => {
    const res = await suite.server.http("/no-such-file.txt");
    expect(res.status).toBe(404);
  });
});
