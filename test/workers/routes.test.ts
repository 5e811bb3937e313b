/**
 * The Worker's routing table (protocol §1, §4), in process: requests go to
 * the Worker's own fetch (no TCP, no socket accepted), so each refusal is
 * checked to happen in the Worker with its documented status and JSON body.
 * What needs a real handshake is test/node/connect.test.ts.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const UPGRADE = { Upgrade: "websocket" };

/** The status and error code of a refusal, after checking it is the protocol's JSON shape. */
async function errorOf(res: Response): Promise<{ status: number; error: unknown }> {
  expect(res.headers.get("content-type")).toContain("application/json");
  const body: unknown = await res.json();
  expect(body).toEqual({ error: expect.any(String), message: expect.any(String) });
  return {
    status: res.status,
    error: typeof body === "object" && body !== null && "error" in body ? body.error : body,
  };
}

const get = (path: string, init?: RequestInit) => exports.default.fetch(`http://chat.test${path}`, init);

describe("GET /chat/:room", () => {
  it("refuses a room name with a character outside [A-Za-z0-9._-] with 400 invalid_room", async () => {
    expect(await errorOf(await get("/chat/bad%20room", { headers: UPGRADE }))).toEqual({
      status: 400,
      error: "invalid_room",
    });
  });

  it("refuses a room name that starts with punctuation", async () => {
    for (const room of [".hidden", "-dash", "_under"]) {
      expect(await errorOf(await get(`/chat/${room}`, { headers: UPGRADE })), room).toEqual({
        status: 400,
        error: "invalid_room",
      });
    }
  });

  it("refuses a 65-character room name", async () => {
    expect(await errorOf(await get(`/chat/a${"b".repeat(64)}`, { headers: UPGRADE }))).toEqual({
      status: 400,
      error: "invalid_room",
    });
  });

  it("refuses a path below a room (/chat/a/b) as an invalid room", async () => {
    expect(await errorOf(await get("/chat/a/b", { headers: UPGRADE }))).toEqual({ status: 400, error: "invalid_room" });
  });

  it("answers a request without Upgrade: websocket with 426 websocket_required", async () => {
    expect(await errorOf(await get("/chat/lobby"))).toEqual({ status: 426, error: "websocket_required" });
  });

  it("checks the room name before the upgrade header", async () => {
    expect(await errorOf(await get("/chat/!"))).toEqual({ status: 400, error: "invalid_room" });
  });

  it("answers another method with 405 method_not_allowed and an Allow header", async () => {
    const res = await get("/chat/lobby", { method: "POST" });
    expect(res.headers.get("Allow")).toBe("GET");
    expect(await errorOf(res)).toEqual({ status: 405, error: "method_not_allowed" });
  });

  it("refuses a browser Origin of another site with 403 forbidden_origin, before any room is touched", async () => {
    const res = await get("/chat/lobby", { headers: { ...UPGRADE, Origin: "https://evil.example" } });
    expect(await errorOf(res)).toEqual({ status: 403, error: "forbidden_origin" });
  });
});

describe("other routes", () => {
  it("GET /health answers 200 {ok:true}", async () => {
    const res = await get("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("answers an unknown /api route with 404 JSON", async () => {
    expect(await errorOf(await get("/api/nothing-here"))).toEqual({ status: 404, error: "not_found" });
  });
});
