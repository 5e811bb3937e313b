/**
 * The browser client against hostile input, in Chromium: a flood of joins
 * and leaves, more notices than a page should keep, right-to-left and
 * direction-control text, a malformed address, and a page whose script
 * never runs.
 */
import { describe, expect, it } from "vitest";
import { browserSuite, join, person, say, texts } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite(ONE_MACHINE_LOAD);
/** Presence with no batching to speak of (§9.2): every join and leave is its own frame, as in version 2. */
const unbatched = browserSuite({ ...ONE_MACHINE_LOAD, PRESENCE_BATCH_MS: 1 });

describe("hostile input", () => {
  it("folds a flood of joins and leaves into one notice line that names the first and counts the rest", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    const bots = await Promise.all(Array.from({ length: 40 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${i}`);
    // Batched (§9.2): the joins arrive in a few frames; all of them before anyone leaves.
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(41)");
    await Promise.all(bots.map((b) => b.close()));
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(1)");
    expect(await ann.page.locator("#messages .notice").allTextContents()).toEqual([
      "bot-0 and 39 others joined · bot-0 and 39 others left",
    ]);
    expect(ann.errors).toEqual([]);
  });

  it("keeps at most 100 notice lines, dropping the oldest, and every message", async () => {
    const room = freshRoom("e2e");
    const ann = await person(unbatched.browser, unbatched.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    // A join, then a message from the joiner: each join is a notice line of its own.
    for (let i = 0; i < 120; i++) {
      const bot = await ChatClient.connect(unbatched.server.wsUrl(room));
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

  it("isolates user strings: a right-to-left emoji is drawn before its count, and a direction control is refused", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    const bot = await ChatClient.connect(suite.server.wsUrl(room));
    await bot.join("\u05e9\u05dc\u05d5\u05dd");
    await say(ann.page, "react to this");
    const chat = await bot.next("chat");
    bot.send({ type: "react", seq: chat.seq, emoji: "evil\u202e1" });
    expect(await bot.next("error")).toMatchObject({ code: "bad_message" });
    // Hebrew alef then " 1": without isolation the bidi algorithm draws "1 א".
    bot.send({ type: "react", seq: chat.seq, emoji: "\u05d0" });
    const chip = ann.page.locator(".reaction", { hasText: "\u05d0" });
    await chip.waitFor();
    const order = await chip.evaluate((button) => {
      const emoji = button.querySelector("bdi");
      const count = Array.from(button.childNodes).find(
        (n) => n.nodeType === Node.TEXT_NODE && /\d/.test(n.textContent ?? ""),
      );
      if (!emoji || !count) return "no isolated emoji";
      const range = document.createRange();
      range.selectNodeContents(count);
      return emoji.getBoundingClientRect().right <= range.getBoundingClientRect().left
        ? "emoji, then count"
        : "count first";
    });
    expect(order).toBe("emoji, then count");
    // The joiner's right-to-left name sits in its own <bdi> in the notice line.
    expect(await ann.page.locator("#messages .notice bdi").allTextContents()).toContain("\u05e9\u05dc\u05d5\u05dd");
    expect(ann.errors).toEqual([]);
    await bot.close();
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
