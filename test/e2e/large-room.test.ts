/**
 * The page in a large room (protocol §9.3, §9.4), in Chromium: past
 * ROSTER_LIMIT members it shows the count, not the names; the people list
 * loads names a page at a time as it is scrolled, "Find people" asks the
 * room for names with a prefix, and a name found that way is a direct
 * message away.
 */
import { describe, expect, it } from "vitest";
import { browserSuite, join, person } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, ROSTER_LIMIT: 3, OCCUPANCY_INTERVAL_MS: 300 });

describe("a large room on the page", () => {
  it("shows the count, pages the people list on scroll, and finds people by prefix", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    const bots = await Promise.all(Array.from({ length: 60 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${String(i).padStart(2, "0")}`);
    const page = ann.page;
    await expect.poll(() => page.locator("#count").textContent()).toBe("(61)");
    await expect.poll(() => page.locator("#people-hint").textContent()).toContain("61 people here");
    // Names are not pushed any more: the line in the conversation counts instead.
    await expect.poll(() => page.locator("#messages .notice").last().textContent()).toBe("61 people here");
    // The list loads its first page by name, and the next as it is scrolled to its end.
    const listed = page.locator("#users li");
    await expect.poll(() => listed.count()).toBe(50);
    expect(await listed.first().textContent()).toBe("Ann (you)");
    await page.locator("#people-list").evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect.poll(() => listed.count()).toBe(61);
    expect(await listed.last().textContent()).toBe("bot-59");
    // Find people: the room answers names with that prefix.
    await page.getByRole("searchbox", { name: "Find people" }).fill("BOT-5");
    await expect.poll(() => listed.allTextContents()).toEqual(Array.from({ length: 10 }, (_, i) => `bot-5${i}`));
    await page.getByRole("button", { name: "bot-52" }).click();
    await expect.poll(() => page.locator("#dm-name").textContent()).toBe("bot-52");
    expect(ann.errors).toEqual([]);
    await Promise.all(bots.map((b) => b.close()));
  });

  it("offers the rest of the list when the room grows after its one page came back full", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    const page = ann.page;
    const listed = page.locator("#users li");
    // Fifty people: the first page is all of them, with no cursor to go on from.
    const bots = await Promise.all(Array.from({ length: 49 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${String(i).padStart(2, "0")}`);
    await expect.poll(() => page.locator("#count").textContent()).toBe("(50)");
    await expect.poll(() => listed.count()).toBe(50);
    await expect.poll(() => page.locator("#people-status").textContent()).toBe("");
    const later = await Promise.all(Array.from({ length: 11 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of later.entries()) await bot.join(`bot-${49 + i}`);
    await expect.poll(() => page.locator("#count").textContent()).toBe("(61)");
    await expect.poll(() => page.locator("#people-more").isHidden()).toBe(false);
    await page.locator("#people-list").evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect.poll(() => listed.count()).toBe(61);
    expect(await listed.last().textContent()).toBe("bot-59");
    expect(ann.errors).toEqual([]);
    await Promise.all([...bots, ...later].map((b) => b.close()));
  });

  it("names everyone again once the room is small", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    const bots = await Promise.all(Array.from({ length: 4 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${i}`);
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(5)");
    for (const bot of bots.slice(0, 3)) await bot.close();
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(2)");
    await expect.poll(() => ann.page.locator("#users li").allTextContents()).toEqual(["Ann (you)", "bot-3"]);
    await expect.poll(() => ann.page.locator("#people-hint").textContent()).toBe("Pick someone for a direct message.");
    expect(ann.errors).toEqual([]);
  });
});
