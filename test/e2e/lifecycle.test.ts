/**
 * Editing, deleting, reacting and replying between two people in real
 * Chromium (protocol §7), and the same changes reaching someone who was
 * offline while they happened.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserSuite, join, person, say, texts } from "../support/browser";
import { freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, RATE_BURST: 100, RATE_PER_SEC: 100 });

const message = (page: Page, text: string) => page.locator("#messages .msg", { hasText: text });

async function twoPeople() {
  const room = freshRoom("e2e-life");
  const ann = await person(suite.browser, suite.server.origin);
  const ben = await person(suite.browser, suite.server.origin);
  await join(ann.page, room, "Ann");
  await join(ben.page, room, "Ben");
  await ann.page.locator("#users").getByText("Ben").waitFor();
  return { ann, ben };
}

describe("the message lifecycle in the page", () => {
  it("lets Ann fix her last message with ↑, and Ben sees it edited", async () => {
    const { ann, ben } = await twoPeople();
    await say(ann.page, "helo");
    await message(ben.page, "helo").waitFor();
    const box = ann.page.getByRole("textbox", { name: "Message" });
    await box.press("ArrowUp");
    expect(await ann.page.locator("#compose-what").textContent()).toBe("Editing your message");
    expect(await box.inputValue()).toBe("helo");
    await box.fill("hello");
    await box.press("Enter");
    await message(ben.page, "hello").locator(".edited").waitFor();
    expect(await texts(ben.page)).toEqual(["hello"]);
    expect(await texts(ann.page)).toEqual(["hello"]);
    expect(ben.errors).toEqual([]);
  });

  it("lets Ben react and Ann add hers by clicking the count; names show on the button", async () => {
    const { ann, ben } = await twoPeople();
    await say(ann.page, "lunch?");
    await message(ben.page, "lunch?").waitFor();
    await message(ben.page, "lunch?").getByRole("button", { name: "React (message from Ann)" }).click();
    await message(ben.page, "lunch?").getByRole("button", { name: "React 👍" }).click();
    const annCount = message(ann.page, "lunch?").locator(".reaction");
    await expect.poll(() => annCount.textContent()).toBe("👍 1");
    expect(await annCount.getAttribute("title")).toBe("Ben");
    expect(await annCount.getAttribute("aria-pressed")).toBe("false");
    await annCount.click();
    await expect.poll(() => message(ben.page, "lunch?").locator(".reaction").textContent()).toBe("👍 2");
    await expect.poll(() => annCount.getAttribute("aria-pressed")).toBe("true");
    expect(await annCount.getAttribute("title")).toBe("Ben, Ann");
  });

  it("lets Ben reply with a quote that jumps to the answered message, and Ann delete hers with confirmation", async () => {
    const { ann, ben } = await twoPeople();
    await say(ann.page, "who is in tomorrow?");
    await message(ben.page, "who is in tomorrow?").waitFor();
    await message(ben.page, "who is in tomorrow?").getByRole("button", { name: "Reply (message from Ann)" }).click();
    expect(await ben.page.locator("#compose-what").textContent()).toBe("Replying to Ann: “who is in tomorrow?”");
    await say(ben.page, "me");
    const quote = message(ann.page, "me").locator(".reply-quote");
    await quote.waitFor();
    expect(await quote.textContent()).toBe("↪ Ann: who is in tomorrow?");
    await quote.click();
    await expect
      .poll(() => ann.page.evaluate(() => document.activeElement?.textContent ?? ""))
      .toContain("who is in tomorrow?");

    ann.page.once("dialog", (dialog) => dialog.accept());
    await message(ann.page, "who is in tomorrow?").getByRole("button", { name: "Delete (message from Ann)" }).click();
    await ben.page.locator("#messages .msg.deleted", { hasText: "message deleted" }).waitFor();
    await expect
      .poll(() => message(ben.page, "me").locator(".reply-quote").textContent())
      .toBe("↪ Ann: message deleted");
    expect(await texts(ben.page)).toEqual(["message deleted", "me"]);
  });

  it("brings Ben every edit, reaction and delete made while he was offline, once he is back", async () => {
    const { ann, ben } = await twoPeople();
    for (const text of ["first", "second", "third"]) await say(ann.page, text);
    await message(ben.page, "third").waitFor();
    await ben.page.context().setOffline(true);
    await expect.poll(() => ben.page.getByRole("status").textContent()).toContain("Offline");

    const box = ann.page.getByRole("textbox", { name: "Message" });
    await message(ann.page, "second").getByRole("button", { name: "Edit (message from Ann)" }).click();
    await box.fill("second, edited");
    await box.press("Enter");
    await message(ann.page, "second, edited").locator(".edited").waitFor();
    await message(ann.page, "third").getByRole("button", { name: "React (message from Ann)" }).click();
    await message(ann.page, "third").getByRole("button", { name: "React 🎉" }).click();
    await message(ann.page, "third").locator(".reaction").waitFor();
    ann.page.once("dialog", (dialog) => dialog.accept());
    await message(ann.page, "first").getByRole("button", { name: "Delete (message from Ann)" }).click();
    await ann.page.locator("#messages .msg.deleted").waitFor();
    await say(ann.page, "fourth");

    await ben.page.context().setOffline(false);
    await expect.poll(() => ben.page.getByRole("status").textContent(), { timeout: 10_000 }).toContain("Live");
    await expect.poll(() => texts(ben.page)).toEqual(["message deleted", "second, edited", "third", "fourth"]);
    expect(await message(ben.page, "third").locator(".reaction").textContent()).toBe("🎉 1");
    expect(await message(ben.page, "second, edited").locator(".edited").count()).toBe(1);
    expect(ben.errors).toEqual([]);
  });
});
