/**
 * History beyond the ring and search on the page (§8), in Chromium: scrolling
 * to the top loads older messages until "This is the beginning", the search
 * box lists results with the matched words marked (as text), and choosing
 * one shows it in context with a way back to the latest messages; all of it
 * at 360 px and by keyboard. A ring of 10 makes nearly everything come from
 * beyond it.
 */
import { describe, expect, it } from "vitest";
import { browserSuite, join, person, texts } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, RATE_BURST: 1000, HISTORY_LIMIT: 10 });

/** A room where a bot has said `texts`, in order (seq 1..n). */
async function roomWith(texts: string[]): Promise<string> {
  const room = freshRoom("e2e-history");
  const bot = await ChatClient.connect(suite.server.wsUrl(room));
  await bot.join("Bot");
  for (const text of texts) bot.send({ type: "chat", text });
  await bot.sync();
  await bot.close();
  return room;
}

describe("older messages and search on the page", () => {
  it("loads older messages as the reader scrolls to the top, down to the beginning", async () => {
    const sent = Array.from({ length: 130 }, (_, i) => `line ${i + 1}`);
    const room = await roomWith(sent);
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    const edge = ann.page.locator("#history-edge");
    for (let i = 0; i < 20 && !(await edge.textContent())?.includes("This is the beginning."); i++) {
      await ann.page.evaluate(() => window.scrollTo(0, 0));
      await ann.page.waitForTimeout(100);
    }
    await expect.poll(() => edge.textContent()).toContain("This is the beginning.");
    expect(await texts(ann.page)).toEqual(sent);
    expect(ann.errors).toEqual([]);
  });

  it("keeps loading older pages by itself in a window taller than a page, down to the beginning, without a scroll", async () => {
    // The ring (10) and two pages (50 each, the second short): all of it fits in the window.
    const sent = Array.from({ length: 70 }, (_, i) => `tall ${i + 1}`);
    const room = await roomWith(sent);
    // The edge stays in view after each page: only a fresh look asks for the next.
    const ann = await person(suite.browser, suite.server.origin, { width: 1100, height: 9000 });
    await join(ann.page, room, "Ann");
    await expect
      .poll(() => ann.page.locator("#history-edge").textContent(), { timeout: 10_000 })
      .toContain("This is the beginning.");
    expect(await texts(ann.page)).toEqual(sent);
  });

  it("finds messages by a word, marks the words, and shows an old result in context, then the latest again", async () => {
    const sent = Array.from({ length: 300 }, (_, i) => (i === 4 ? "the <b>Café</b> needle" : `filler ${i + 1}`));
    const room = await roomWith(sent);
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => texts(ann.page).then((t) => t.at(-1))).toBe("filler 300");

    await ann.page.getByRole("searchbox", { name: "Search" }).fill("CAFE NEED");
    await ann.page.getByRole("searchbox", { name: "Search" }).press("Enter");
    const results = ann.page.getByRole("region", { name: "Search results" });
    await expect.poll(() => results.locator(".result").count()).toBe(1);
    expect(await results.locator("mark").allTextContents()).toEqual(["Café", "needle"]);
    // The text is shown as text: the tags are characters, not elements.
    expect(await results.locator(".result .text").textContent()).toBe("the <b>Café</b> needle");
    expect(await results.locator("b").count()).toBe(0);

    await results.locator(".result").click();
    const target = ann.page.locator('#messages .msg[data-seq="5"]');
    await expect.poll(() => target.count()).toBe(1);
    await expect.poll(() => ann.page.evaluate(() => document.activeElement?.getAttribute("data-seq"))).toBe("5");
    expect(await ann.page.locator("#context-bar").isVisible()).toBe(true);
    expect(await texts(ann.page)).not.toContain("filler 300");

    await ann.page.getByRole("button", { name: "Back to the latest messages" }).click();
    await expect.poll(() => texts(ann.page).then((t) => t.at(-1))).toBe("filler 300");
    expect(await ann.page.locator("#context-bar").isVisible()).toBe(false);
    expect(ann.errors).toEqual([]);
  });

  it("works at 360 px by keyboard alone, without scrolling sideways", async () => {
    const room = await roomWith(["an apple a day", ...Array.from({ length: 40 }, (_, i) => `pear ${i}`)]);
    const ann = await person(suite.browser, suite.server.origin, { width: 360, height: 740 });
    await join(ann.page, room, "Ann");
    await expect.poll(() => texts(ann.page).then((t) => t.at(-1))).toBe("pear 39");
    await ann.page.getByRole("searchbox", { name: "Search" }).focus();
    await ann.page.keyboard.type("apple");
    await ann.page.keyboard.press("Enter");
    const result = ann.page.getByRole("region", { name: "Search results" }).locator(".result");
    await expect.poll(() => result.count()).toBe(1);
    await ann.page.keyboard.press("Tab");
    expect(await ann.page.evaluate(() => document.activeElement?.className)).toBe("result");
    await ann.page.keyboard.press("Enter");
    await expect.poll(() => ann.page.evaluate(() => document.activeElement?.getAttribute("data-seq"))).toBe("1");
    const overflow = await ann.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(ann.errors).toEqual([]);
  });
});
