/**
 * Moderation from the browser (protocol §6) in real Chromium: a moderator
 * acts from a person's entry in the roster, and the person acted on reads
 * why. Sign-in is played as in identity.test.ts: each context's site login
 * answers the token endpoint.
 */
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AUTH_ENDPOINT, browserSuite, enterSignedIn, say, signedInContext, texts } from "../support/browser";
import { freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";
import { TEST_AUTH_SECRET } from "../support/tokens";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ENDPOINT });

async function signedIn(sub: string, name: string, role: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await signedInContext(suite.browser, suite.server.origin, { sub, name, role });
  return { context, page: await context.newPage() };
}

const enter = enterSignedIn;

/** Opens the moderation dialog from the person's roster entry and presses `action`. */
async function moderate(page: Page, name: string, action: "Kick" | "Mute" | "Ban", reason: string): Promise<void> {
  await page.getByRole("button", { name: `Moderate ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox", { name: "Reason" }).fill(reason);
  await dialog.getByRole("button", { name: action }).click();
}

describe("moderating from the page", () => {
  it("lets a moderator mute and then kick a member from the roster, and the member reads why", async () => {
    const room = freshRoom("e2e-mod");
    const mod = await signedIn("u-mod", "Mod", "moderator");
    const mia = await signedIn("u-mia", "Mia", "member");
    await enter(mod.page, room);
    await enter(mia.page, room);
    await mod.page.locator("#users").getByText("Mia").waitFor();
    // Members get no moderation controls.
    expect(await mia.page.getByRole("button", { name: "Moderate Mod" }).count()).toBe(0);
    expect(await mia.page.locator("#slowmode-box").isVisible()).toBe(false);

    await moderate(mod.page, "Mia", "Mute", "calm down");
    const muteNotice = mia.page.locator("#messages .notice.moderation", { hasText: "muted Mia" });
    await muteNotice.waitFor();
    expect(await muteNotice.textContent()).toMatch(/^Mod muted Mia until .+ \(calm down\)\.$/);
    await say(mia.page, "can anyone hear me?");
    await expect
      .poll(() => mia.page.locator("#send-error").textContent())
      .toMatch(/^You are muted until .+; the message was not sent\.$/);
    expect(await texts(mod.page)).toEqual([]);

    await moderate(mod.page, "Mia", "Kick", "enough for today");
    await mia.page
      .locator("#messages .notice", { hasText: "A moderator removed you from the room: enough for today" })
      .waitFor();
    await expect.poll(() => mia.page.getByRole("status").textContent()).toBe("Removed by a moderator");
    await mod.page
      .locator("#messages .notice", { hasText: "Mod removed Mia from the room (enough for today)." })
      .waitFor();
    await expect.poll(() => mod.page.locator("#count").textContent()).toBe("(1)");
    // A kicked page does not reconnect by itself.
    await mia.page.waitForTimeout(1500);
    expect(await mia.page.getByRole("status").textContent()).toBe("Removed by a moderator");
    expect(await mod.page.locator("#count").textContent()).toBe("(1)");
    await Promise.all([mod.context.close(), mia.context.close()]);
  });

  it("lets a moderator turn on slow mode, and a member sees the countdown", async () => {
    const room = freshRoom("e2e-slow");
    const mod = await signedIn("u-mod", "Mod", "moderator");
    const mia = await signedIn("u-mia", "Mia", "member");
    await enter(mod.page, room);
    await enter(mia.page, room);
    await mod.page.getByRole("combobox", { name: "Slow mode" }).selectOption("30");
    await mia.page.locator("#messages .notice", { hasText: "turned on slow mode: one message every 30 s" }).waitFor();
    await say(mia.page, "first");
    await mia.page.locator("#messages .msg", { hasText: "first" }).waitFor();
    await say(mia.page, "second");
    await expect
      .poll(() => mia.page.locator("#send-error").textContent())
      .toMatch(/^Slow mode: your message goes out in \d+ s\.$/);
    // The second waits in the outbox rather than being lost.
    expect(await mia.page.locator("#outbox .msg", { hasText: "second" }).count()).toBe(1);
    await Promise.all([mod.context.close(), mia.context.close()]);
  });
});
