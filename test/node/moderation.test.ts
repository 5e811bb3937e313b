/**
 * Protocol §6 over real sockets: who may act on whom, kick, ban (by `sub`,
 * and for guests by name and address), mute, slow mode, the HTTP API, the
 * audit log, persistence across a restart, and the limits that follow a
 * verified user across addresses. What is counted is what the others
 * receive. Expiry without traffic is in test/hibernation/.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, startChat } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const API_TOKEN = "test-api-token-0123456789-abcdefghij";
const VARS = { AUTH_SECRET: TEST_AUTH_SECRET, API_TOKEN, PRESENCE_GRACE_MS: 0 };

const suite = chatSuite({ vars: VARS });

/** A socket from `from` (a loopback address: each is another client address to the room). */
const open = (room: string, from = "127.0.0.1") => ChatClient.connect(suite.server.wsUrl(room), {}, from);

async function user(room: string, sub: string, name: string, role = "member", from = "127.0.0.1") {
  const c = await open(room, from);
  await c.signIn(await hs256({ sub, name, role }));
  return c;
}

async function guest(room: string, name: string, from = "127.0.0.1") {
  const c = await open(room, from);
  await c.join(name);
  return c;
}

/** A room with Mod (moderator), Ada (admin), Mia (member) and Gus (guest); every inbox empty. */
async function staffedRoom() {
  const room = freshRoom("mod");
  const mod = await user(room, "u-mod", "Mod", "moderator");
  const ada = await user(room, "u-ada", "Ada", "admin");
  const mia = await user(room, "u-mia", "Mia");
  const gus = await guest(room, "Gus", "127.0.0.2");
  await Promise.all([mod, ada, mia, gus].map((c) => c.sync()));
  return { room, mod, ada, mia, gus };
}

const errorOf = async (c: ChatClient) => (await c.next("error")).code;

describe("who may act (§6.1)", () => {
  it("refuses every moderation frame from members and guests with forbidden", async () => {
    const { mia, gus } = await staffedRoom();
    for (const frame of [
      { type: "kick", name: "Gus" },
      { type: "ban", name: "Gus" },
      { type: "mute", name: "Gus", minutes: 5 },
      { type: "slowmode", seconds: 10 },
    ]) {
      mia.send(frame);
      expect(await errorOf(mia)).toBe("forbidden");
    }
    gus.send({ type: "kick", name: "Mia" });
    expect(await errorOf(gus)).toBe("forbidden");
  });

  it("lets a moderator act on members and guests, not on a moderator or an admin", async () => {
    const { room, mod, ada } = await staffedRoom();
    const other = await user(room, "u-mod2", "Moe", "moderator");
    await mod.sync();
    for (const name of ["Ada", "Moe", "Mod"]) {
      mod.send({ type: "mute", name, minutes: 5 });
      expect(await errorOf(mod)).toBe("forbidden");
    }
    mod.send({ type: "mute", name: "Mia", minutes: 5 });
    expect(await mod.next("moderation")).toMatchObject({ action: "mute", name: "Mia", by: "Mod" });
    await Promise.all([ada.sync(), other.sync()]);
  });

  it("lets an admin act on a moderator, but not on themself", async () => {
    const { ada, mod } = await staffedRoom();
    ada.send({ type: "kick", name: "Ada" });
    expect(await errorOf(ada)).toBe("forbidden");
    ada.send({ type: "kick", name: "Mod", reason: "rotation" });
    expect(await mod.next("error")).toMatchObject({ code: "kicked", reason: "rotation" });
  });

  it("answers no_such_user for a name nobody in the room holds, and for an unban of nobody banned", async () => {
    const { mod } = await staffedRoom();
    mod.send({ type: "kick", name: "Nobody" });
    expect(await errorOf(mod)).toBe("no_such_user");
    mod.send({ type: "unban", name: "Gus" });
    expect(await errorOf(mod)).toBe("no_such_user");
    mod.send({ type: "unmute", name: "Gus" });
    expect(await errorOf(mod)).toBe("no_such_user");
  });
});

describe("kick (§6.2)", () => {
  it("closes every socket of the target with kicked and 4003, and the others hear `left` and the action", async () => {
    const { room, mod, mia } = await staffedRoom();
    const miaTab = await user(room, "u-mia", "Mia");
    mod.send({ type: "kick", name: "Mia", reason: "cool off" });
    for (const tab of [mia, miaTab]) {
      expect(await tab.next("error")).toMatchObject({ code: "kicked", reason: "cool off" });
      expect((await tab.closed).code).toBe(4003);
    }
    expect(await mod.next("left")).toMatchObject({ name: "Mia", user: "u-mia", reason: "kicked", count: 3 });
    expect(await mod.next("moderation")).toMatchObject({
      room,
      action: "kick",
      name: "Mia",
      user: "u-mia",
      by: "Mod",
      reason: "cool off",
    });
  });

  it("does not keep a kicked user out: they may join again at once", async () => {
    const { room, mod } = await staffedRoom();
    mod.send({ type: "kick", name: "Gus" });
    await mod.next("moderation");
    const back = await open(room, "127.0.0.2");
    expect((await back.join("Gus")).users).toContain("Gus");
  });
});

describe("ban (§6.2)", () => {
  it("closes all of a verified user's sockets, and holds them by sub: another name, address and token are refused", async () => {
    const { room, mod, mia } = await staffedRoom();
    const miaTab = await user(room, "u-mia", "Mia", "member", "127.0.0.8");
    mod.send({ type: "ban", name: "Mia", minutes: 30, reason: "spam" });
    const moderation = await mod.next("moderation");
    expect(moderation).toMatchObject({ action: "ban", name: "Mia", by: "Mod", reason: "spam" });
    for (const tab of [mia, miaTab]) {
      expect(await tab.next("error")).toMatchObject({ code: "banned", until: moderation.until, reason: "spam" });
      expect((await tab.closed).code).toBe(4003);
    }
    const again = await open(room, "127.0.0.9");
    const refused = await again.attempt({ auth: await hs256({ sub: "u-mia", name: "Totally Not Mia" }) });
    expect(refused).toMatchObject({ type: "error", code: "banned", until: moderation.until });
    // Another user behind the same address is not touched.
    await expect(user(room, "u-kim", "Kim", "member", "127.0.0.9")).resolves.toBeInstanceOf(ChatClient);
  });

  it("holds a guest by name and by address: a new name from that address is refused, the name from elsewhere too", async () => {
    const { room, mod } = await staffedRoom();
    mod.send({ type: "ban", name: "Gus" });
    expect(await mod.next("moderation")).toMatchObject({ action: "ban", name: "Gus", until: null });
    const sameAddress = await open(room, "127.0.0.2");
    expect(await sameAddress.attempt({ name: "Gustav" })).toMatchObject({ code: "banned", until: null });
    const sameName = await open(room, "127.0.0.3");
    expect(await sameName.attempt({ name: "gus" })).toMatchObject({ code: "banned" });
    const someoneElse = await open(room, "127.0.0.3");
    expect((await someoneElse.join("Hal")).users).toContain("Hal");
  });

  it("is lifted by unban, which everyone hears", async () => {
    const { room, mod, mia } = await staffedRoom();
    mod.send({ type: "ban", name: "Gus" });
    await mia.next("moderation");
    mod.send({ type: "unban", name: "Gus" });
    expect(await mia.next("moderation")).toMatchObject({ action: "unban", name: "Gus", by: "Mod" });
    const back = await open(room, "127.0.0.2");
    expect((await back.join("Gus")).users).toContain("Gus");
  });
});

describe("mute (§6.2)", () => {
  it("answers the muted user's chat, dm and typing with muted and relays none of them", async () => {
    const { mod, mia, gus } = await staffedRoom();
    mod.send({ type: "mute", name: "Gus", minutes: 10 });
    const { until } = await gus.next("moderation");
    for (const frame of [
      { type: "chat", text: "let me speak" },
      { type: "dm", to: "Mia", text: "psst" },
      { type: "typing" },
    ]) {
      gus.send(frame);
      expect(await gus.next("error")).toMatchObject({ code: "muted", until });
    }
    expect((await mia.sync()).filter((f) => f.type !== "moderation")).toEqual([]);
  });

  it("holds a muted guest across a new name from the same address, until unmute", async () => {
    const { room, mod, mia, gus } = await staffedRoom();
    mod.send({ type: "mute", name: "Gus", minutes: 10 });
    await mia.next("moderation");
    gus.send({ type: "leave" });
    await mia.next("left");
    const renamed = await guest(room, "Gustavo", "127.0.0.2");
    renamed.send({ type: "chat", text: "new name, same me" });
    expect(await errorOf(renamed)).toBe("muted");
    mod.send({ type: "unmute", name: "Gus" });
    await renamed.next("moderation");
    renamed.send({ type: "chat", text: "thanks" });
    expect(await mia.next("chat")).toMatchObject({ name: "Gustavo", text: "thanks" });
  });
});

describe("slow mode (§6.2)", () => {
  it("lets members and guests post once per interval, exempts moderators and admins, and shows in welcome.settings", async () => {
    const { room, mod, ada, mia, gus } = await staffedRoom();
    mod.send({ type: "slowmode", seconds: 30 });
    expect(await mia.next("moderation")).toMatchObject({ action: "slowmode", seconds: 30, by: "Mod" });
    mia.send({ type: "chat", text: "first" });
    await mia.next("chat");
    mia.send({ type: "chat", text: "second" });
    const refused = await mia.next("error");
    expect(refused.code).toBe("slow_mode");
    expect(refused.retry_after).toBeGreaterThan(25_000);
    expect(refused.retry_after).toBeLessThanOrEqual(30_000);
    gus.send({ type: "chat", text: "guest once" });
    await gus.next("chat");
    gus.send({ type: "chat", text: "guest twice" });
    expect(await errorOf(gus)).toBe("slow_mode");
    for (const staff of [mod, ada]) {
      staff.send({ type: "chat", text: "one" });
      staff.send({ type: "chat", text: "two" });
    }
    await Promise.all([mod.sync(), ada.sync()]);
    const texts = (await gus.sync()).flatMap((f) => (f.type === "chat" ? [f.text] : []));
    expect(texts.filter((t) => t === "one" || t === "two")).toHaveLength(4);
    const welcome = await (await open(room, "127.0.0.6")).attempt({ name: "Later" });
    expect(welcome).toMatchObject({ type: "welcome", settings: { slowmode: 30 } });
    mod.send({ type: "slowmode", seconds: 0 });
    await mia.next("moderation");
    await mia.sync();
    mia.send({ type: "chat", text: "free again" });
    expect(await mia.next("chat")).toMatchObject({ text: "free again" });
  });
});

describe("the HTTP API (§6.4)", () => {
  /** POST with the API token, or with `token` ("" for none). */
  const post = (room: string, body: unknown, token = API_TOKEN) =>
    suite.server.http(`/api/rooms/${room}/moderation`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "CF-Connecting-IP": "198.51.100.7",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });

  it("acts as an admin named system with the API token, and lists what is in force", async () => {
    const { room, mia, ada } = await staffedRoom();
    const kicked = await post(room, { action: "ban", name: "Ada", minutes: 5 });
    expect([kicked.status, await kicked.json()]).toEqual([200, { ok: true }]);
    expect(await ada.next("error")).toMatchObject({ code: "banned" });
    expect(await mia.next("moderation")).toMatchObject({ action: "ban", name: "Ada", by: "system" });
    await post(room, { action: "mute", name: "Gus", minutes: 5 });
    await post(room, { action: "slowmode", seconds: 12 });
    const listed = await suite.server.http(`/api/rooms/${room}/moderation`, {
      headers: { Authorization: `Bearer ${API_TOKEN}` },
    });
    expect(await listed.json()).toEqual({
      bans: [{ name: "Ada", user: "u-ada", until: expect.any(Number) }],
      mutes: [{ name: "Gus", until: expect.any(Number) }],
      slowmode: 12,
    });
  });

  it("refuses without the token, and answers the frame's errors with 400 or 404", async () => {
    const { room } = await staffedRoom();
    expect((await post(room, { action: "kick", name: "Gus" }, "")).status).toBe(401);
    expect((await suite.server.http(`/api/rooms/${room}/moderation`)).status).toBe(401);
    const nobody = await post(room, { action: "kick", name: "Nobody" });
    expect([nobody.status, await nobody.json()]).toEqual([404, expect.objectContaining({ error: "no_such_user" })]);
    expect((await post(room, { action: "explode", name: "Gus" })).status).toBe(400);
    expect((await post(room, { action: "mute", name: "Gus" })).status).toBe(400); // minutes missing
    expect((await post(room, { action: "slowmode", seconds: 3601 })).status).toBe(400);
  });

  it("writes one audit line per action: actor, action, target, until; never a reason, text or token", async () => {
    const { room, mod } = await staffedRoom();
    mod.send({ type: "ban", name: "Gus", minutes: 1, reason: "secret reason text" });
    const { until } = await mod.next("moderation");
    await post(room, { action: "unban", name: "Gus" });
    await mod.next("moderation");
    const lines = suite.server.logs.filter((l) => l.includes('"audit":"moderation"') && l.includes(room));
    expect(lines.map((l) => JSON.parse(l.slice(l.indexOf("{"))))).toEqual([
      { audit: "moderation", room, actor: "Mod", action: "ban", target: "Gus", until },
      { audit: "moderation", room, actor: "system", action: "unban", target: "Gus" },
    ]);
    expect(suite.server.logs.join("\n")).not.toContain("secret reason text");
    expect(suite.server.logs.join("\n")).not.toContain(API_TOKEN);
  });
});

describe("limits by identity (§6, issue: limits by sub)", () => {
  it("gives a verified user one join budget across addresses", async () => {
    const strict = await startChat({ vars: { ...VARS, JOINS_PER_MINUTE: 1 } });
    try {
      const room = freshRoom("sub-joins");
      const auth = await hs256({ sub: "u-spam", name: "Spam" });
      const answers: string[] = [];
      // Six sockets on three addresses: two per address is within each address's 5, but the user has 5 in all.
      for (let i = 0; i < 6; i++) {
        const c = await ChatClient.connect(strict.wsUrl(room), {}, `127.0.1.${1 + (i % 3)}`);
        const answer = await c.attempt({ auth });
        answers.push(answer.type === "error" ? answer.code : answer.type);
      }
      expect(answers).toEqual(["welcome", "welcome", "welcome", "welcome", "welcome", "rate_limited"]);
    } finally {
      await strict.stop();
    }
  });

  it("gives a verified user one chat budget across addresses", async () => {
    const room = freshRoom("sub-posts");
    const watcher = await guest(room, "Watcher", "127.0.2.9");
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await user(room, "u-flood", "Flood", "member", `127.0.2.${1 + i}`));
    await watcher.sync();
    // RATE_BURST is 10: fifteen sent at once from three addresses.
    for (let i = 0; i < 15; i++) tabs[i % 3]?.send({ type: "chat", text: `m${i}` });
    await Promise.all(tabs.map((t) => t.sync()));
    const delivered = (await watcher.sync()).filter((f) => f.type === "chat").length;
    expect(delivered).toBeGreaterThanOrEqual(10);
    expect(delivered).toBeLessThan(12);
  });
});

describe("persistence", () => {
  it("keeps bans, mutes and slow mode across a restart of the runtime", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-chat-mod-"));
    let restartable = await startChat({ vars: VARS, persistDir: dir });
    try {
      const room = freshRoom("persist");
      const mod = await ChatClient.connect(restartable.wsUrl(room));
      await mod.signIn(await hs256({ sub: "u-mod", name: "Mod", role: "moderator" }));
      const [gus, mia] = [
        await ChatClient.connect(restartable.wsUrl(room), {}, "127.0.3.1"),
        await ChatClient.connect(restartable.wsUrl(room)),
      ];
      await gus.join("Gus");
      await mia.signIn(await hs256({ sub: "u-mia", name: "Mia" }));
      mod.send({ type: "ban", name: "Gus", minutes: 60 });
      mod.send({ type: "mute", name: "Mia", minutes: 60 });
      mod.send({ type: "slowmode", seconds: 99 });
      for (let i = 0; i < 3; i++) await mod.next("moderation");
      await restartable.stop();
      restartable = await startChat({ vars: VARS, persistDir: dir });

      const gusAgain = await ChatClient.connect(restartable.wsUrl(room), {}, "127.0.3.1");
      expect(await gusAgain.attempt({ name: "Gus2" })).toMatchObject({ code: "banned" });
      const miaAgain = await ChatClient.connect(restartable.wsUrl(room));
      const welcome = await miaAgain.signIn(await hs256({ sub: "u-mia", name: "Mia" }));
      expect(welcome.settings).toEqual({ slowmode: 99 });
      miaAgain.send({ type: "chat", text: "am I still muted?" });
      expect(await miaAgain.next("error")).toMatchObject({ code: "muted" });
    } finally {
      await restartable.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
