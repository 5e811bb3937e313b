/**
 * The browser client against hostile input (hardening findings 5 and 8), in
 * Chromium: a flood of joins and leaves, more notices than a page should
 * keep, a malformed address, and a page whose script never runs.
 */
import { describe, expect, it } from "vitest";
import { browserSuite, join, person, texts } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite(ONE_MACHINE_LOAD);

describe("hostile input", () => {
  it("folds a flood of joins and leaves into one notice line that names the first and counts the rest", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    const bots = await Promise.all(Array.from({ length: 40 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${i}`);
    await Promise.all(bots.map((b) => b.close()));
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(1)");
    expect(await ann.page.locator("#messages .notice").allTextContents()).toEqual([
      "bot-0 and 39 others joined · bot-0 and 39 others left",
    ]);
    expect(ann.errors).toEqual([]);
  });

  it("keeps at most 100 notice lines, dropping the oldest, and every message", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    // A join, then a message from the joiner: each join is a notice line of its own.
    for (let i = 0; i < 120; i++) {
      const bot = await ChatClient.connect(suite.server.wsUrl(room));
      await bot.join(`bot-${i}`);
      bot.send({ type: "chat", text: `from bot-${i}` });
      await bot.next("chat");
      await bot.close();
    }
    await ann.page.locator("#messages .msg", { hasText: "from bot-119" }).waitFor();
    expect(await texts(ann.page)).toHaveLength(120);
    const notices = await ann.page.locator("#messages .notice").allTextContents();
    expect(notices).toHaveLength(100);
    expect(notices.at(-1)).toBe("bot-119 left");
  });

  it("starts with a malformed escape in the address (#%E0%A4%A) and joins normally", async () => {
    const ann = await person(suite.browser, suite.server.origin);
    await ann.page.goto("/#%E0%A4%A");
    // The raw text is offered as the room; it is not a valid room name.
    expect(await ann.page.getByRole("textbox", { name: "Room" }).inputValue()).toBe("%E0%A4%A");
    await ann.page.getByRole("textbox", { name: "Name" }).fill("Ann");
    await ann.page.getByRole("button", { name: "Join" }).click();
    await ann.page.locator("#join-error").waitFor();
    expect(new URL(ann.page.url()).search).toBe("");
    const room = freshRoom("e2e");
    await ann.page.getByRole("textbox", { name: "Room" }).fill(room);
    await ann.page.getByRole("button", { name: "Join" }).click();
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    expect(ann.errors).toEqual([]);
  });

  it("never submits the join form to the server, even when its script does not run", async () => {
    const context = await suite.browser.newContext({ baseURL: suite.server.origin, javaScriptEnabled: false });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto("/");
    await page.getByRole("textbox", { name: "Room" }).fill("lobby");
    await page.getByRole("textbox", { name: "Name" }).fill("Ann");
    await page.getByRole("button", { name: "Join" }).click();
    // A navigation would be a new document request carrying the name.
    await page.waitForLoadState();
    expect(new URL(page.url()).search).toBe("");
    expect(requests.filter((u) => u.includes("Ann"))).toEqual([]);
    await context.close();
  });
});
