/**
 * Read state on the page (protocol §10) in real Chromium: two signed-in
 * users in two rooms. Bob's list of rooms shows an unread badge and a
 * mention badge for the room he is not in, live from `/me`; switching to
 * it shows the mention highlighted and clears the badges once read.
 */
import { describe, expect, it } from "vitest";
import { AUTH_ENDPOINT, browserSuite, enterSignedIn, say, signedInContext } from "../support/browser";
import { freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";
import { TEST_AUTH_SECRET } from "../support/tokens";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ENDPOINT });

describe("your rooms, unread and mentions", () => {
  it("shows an unread and a mention badge for another room, highlights the mention there, and clears both on reading", async () => {
    const [home, other] = [freshRoom("e2e-home"), freshRoom("e2e-other")];
    const bobSub = `u-bob-${Math.random()}`;
    const bob = await signedInContext(suite.browser, suite.server.origin, { sub: bobSub, name: "Bob" });
    const ann = await signedInContext(suite.browser, suite.server.origin, {
      sub: `u-ann-${Math.random()}`,
      name: "Ann",
    });
    const bobPage = await bob.newPage();
    const annPage = await ann.newPage();
    const errors: string[] = [];
    bobPage.on("pageerror", (e) => errors.push(e.message));

    // Bob has been in both rooms; he is now in `home`.
    await enterSignedIn(bobPage, other);
    await bobPage.getByRole("button", { name: "Leave" }).click();
    await enterSignedIn(bobPage, home);
    const list = bobPage.getByRole("navigation", { name: "Your rooms" });
    await expect.poll(() => list.getByRole("link").allTextContents()).toContain(other);
    expect(await list.getByRole("link", { name: home }).getAttribute("aria-current")).toBe("page");

    await enterSignedIn(annPage, other);
    await say(annPage, "plain news");
    await say(annPage, "@Bob have a look");
    const entry = list.getByRole("listitem").filter({ hasText: other });
    await expect.poll(() => entry.getByLabel("2 unread").count(), { timeout: 5000 }).toBe(1);
    expect(await entry.getByLabel("1 mentioning you").count()).toBe(1);

    await list.getByRole("link", { name: other }).click();
    await expect.poll(() => bobPage.getByRole("status").textContent()).toContain(`Live in ${other}`);
    const mention = bobPage.locator("#messages .msg.mentions-me");
    await expect.poll(() => mention.textContent()).toContain("@Bob have a look");
    expect(await bobPage.locator("#messages .unread-divider").textContent()).toBe("New since you left");
    await expect.poll(() => entry.locator(".badge").count(), { timeout: 5000 }).toBe(0);
    expect(await list.getByRole("link", { name: other }).getAttribute("aria-current")).toBe("page");

    // The read is the room's: a fresh list agrees.
    const token = await bobPage.evaluate(
      async (path) => (await (await fetch(path)).json()).token as string,
      AUTH_ENDPOINT,
    );
    const res = await fetch(`${suite.server.origin}/api/me/rooms`, { headers: { Authorization: `Bearer ${token}` } });
    const rooms = ((await res.json()) as { rooms: Array<{ room: string; unread: number; mentions: number }> }).rooms;
    expect(rooms.find((r) => r.room === other)).toMatchObject({ unread: 0, mentions: 0 });
    expect(errors).toEqual([]);
    await bob.close();
    await ann.close();
  });

  it("offers names after @, and shows who has seen the last message", async () => {
    const room = freshRoom("e2e-seen");
    const ann = await signedInContext(suite.browser, suite.server.origin, {
      sub: `u-ann-${Math.random()}`,
      name: "Ann",
    });
    const bob = await signedInContext(suite.browser, suite.server.origin, {
      sub: `u-bob-${Math.random()}`,
      name: "Bob",
    });
    const annPage = await ann.newPage();
    const bobPage = await bob.newPage();
    await enterSignedIn(annPage, room);
    await enterSignedIn(bobPage, room);

    const box = annPage.getByRole("textbox", { name: "Message" });
    await box.pressSequentially("hi @b");
    const options = annPage.getByRole("listbox", { name: "People to mention" }).getByRole("option");
    await expect.poll(() => options.allTextContents()).toEqual(["Bob"]);
    await box.press("Tab");
    expect(await box.inputValue()).toBe("hi @Bob ");
    await annPage.getByRole("button", { name: "Send" }).click();

    await expect.poll(() => bobPage.locator("#messages .msg.mentions-me").textContent()).toContain("hi @Bob");
    await expect.poll(() => annPage.locator("#seen-by").textContent(), { timeout: 5000 }).toBe("Seen by Bob");
    await ann.close();
    await bob.close();
  });

  it("asks for notification permission only from a click, then notifies a mention while the tab is hidden", async () => {
    const [home, other] = [freshRoom("e2e-note"), freshRoom("e2e-note")];
    const bob = await signedInContext(suite.browser, suite.server.origin, {
      sub: `u-bob-${Math.random()}`,
      name: "Bob",
    });
    // The browser's Notification, played by the page itself: it records what it is asked.
    await bob.addInitScript(() => {
      const w = window as unknown as { __asked: number; __shown: string[] };
      w.__asked = 0;
      w.__shown = [];
      class FakeNotification {
        static permission: NotificationPermission = "default";
        static async requestPermission(): Promise<NotificationPermission> {
          w.__asked++;
          FakeNotification.permission = "granted";
          return "granted";
        }
        constructor(title: string) {
          w.__shown.push(title);
        }
      }
      Object.defineProperty(window, "Notification", { value: FakeNotification });
    });
    const bobPage = await bob.newPage();
    await enterSignedIn(bobPage, other);
    await bobPage.getByRole("button", { name: "Leave" }).click();
    await enterSignedIn(bobPage, home);
    const asked = () => bobPage.evaluate(() => (window as unknown as { __asked: number }).__asked);
    expect(await asked()).toBe(0);
    await bobPage.getByRole("button", { name: "Notify me of mentions" }).click();
    expect(await asked()).toBe(1);
    await expect.poll(() => bobPage.getByRole("button", { name: "Notify me of mentions" }).isHidden()).toBe(true);

    // The tab goes to the background.
    await bobPage.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const ann = await signedInContext(suite.browser, suite.server.origin, {
      sub: `u-ann-${Math.random()}`,
      name: "Ann",
    });
    const annPage = await ann.newPage();
    await enterSignedIn(annPage, other);
    await say(annPage, "@Bob are you around?");
    const shown = () => bobPage.evaluate(() => (window as unknown as { __shown: string[] }).__shown);
    await expect.poll(shown, { timeout: 5000 }).toEqual([`Ann mentioned you in ${other}`]);
    await bob.close();
    await ann.close();
  });
});
