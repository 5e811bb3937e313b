/**
 * Signing in from the browser (protocol §5) in real Chromium. The host
 * site's token endpoint (AUTH_ENDPOINT) is played by Playwright: each
 * browser context answers it with that person's token, as a site's login
 * cookie would. A context that does not answer it is a guest.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  AUTH_ENDPOINT,
  browserSuite,
  enterSignedIn,
  join,
  type Person,
  person,
  say,
  signedInContext,
  texts,
} from "../support/browser";
import { freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ENDPOINT });

const signedIn = (sub: string, name: string) => signedInContext(suite.browser, suite.server.origin, { sub, name });

/** A guest: the site's endpoint answers that nobody is signed in. */
async function guest(): Promise<Person> {
  const someone = await person(suite.browser, suite.server.origin);
  await someone.page.route(`**${AUTH_ENDPOINT}`, (route) => route.fulfill({ json: { token: null } }));
  return someone;
}

const enter = enterSignedIn;

const rosterNames = (page: Page) => page.locator("#users li").evaluateAll((lis) => lis.map((li) => li.textContent));

describe("signing in", () => {
  it("makes one user in two tabs one roster entry, and both tabs see every message", async () => {
    const room = freshRoom("e2e");
    const ann = await signedIn("u-ann", "Ann");
    const [tab1, tab2] = [await ann.newPage(), await ann.newPage()];
    await enter(tab1, room);
    await enter(tab2, room);
    const ben = await guest();
    await join(ben.page, room, "Ben");
    await ben.page.locator("#users").getByText("Ben").waitFor();

    expect(await ben.page.locator("#count").textContent()).toBe("(2)");
    await expect.poll(() => tab2.locator("#count").textContent()).toBe("(2)");
    expect(await rosterNames(tab1)).toEqual(["Ann (you)✓", "Ben"]);

    await say(tab1, "from the first tab");
    await say(ben.page, "from Ben");
    for (const page of [tab1, tab2, ben.page]) {
      await expect.poll(() => texts(page)).toEqual(["from the first tab", "from Ben"]);
    }
    // Closing one tab is not leaving: Ben still sees Ann.
    await tab1.close();
    await say(tab2, "still here");
    await ben.page.locator("#messages .msg", { hasText: "still here" }).waitFor();
    expect(await ben.page.locator("#count").textContent()).toBe("(2)");
    expect(ben.errors).toEqual([]);
    await ann.close();
  });

  it("marks a signed-in user with ✓ in the roster and on messages, and a guest beside them without", async () => {
    const room = freshRoom("e2e");
    const ann = await signedIn("u-ann", "Ann");
    const annPage = await ann.newPage();
    await enter(annPage, room);
    const gus = await guest();
    await join(gus.page, room, "Gus");
    await say(annPage, "signed message");
    await say(gus.page, "guest message");
    await expect.poll(() => texts(gus.page)).toEqual(["signed message", "guest message"]);
    const verifiedIn = (text: string) =>
      gus.page.locator("#messages .msg", { hasText: text }).locator(".verified").count();
    expect([await verifiedIn("signed message"), await verifiedIn("guest message")]).toEqual([1, 0]);
    expect(await rosterNames(gus.page)).toEqual(["Ann✓", "Gus (you)"]);
    expect(await gus.page.locator("#users .verified").getAttribute("title")).toBe("Signed in (u-ann)");
    await ann.close();
  });

  it("refuses a private room to a guest, then lets them in with a pasted token that covers it", async () => {
    const room = freshRoom("private-e2e");
    const gus = await guest();
    await join(gus.page, room, "Gus");
    const alert = gus.page.locator("#join-error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Sign in");

    await gus.page.locator("#token-box summary").click();
    await gus.page
      .getByRole("textbox", { name: "Identity token" })
      .fill(await hs256({ sub: "u-gus", name: "Gus", rooms: ["private-e2e*"] }));
    await expect.poll(() => gus.page.locator("#identity").textContent()).toContain("signed in as Gus");
    await gus.page.getByRole("button", { name: "Join" }).click();
    await expect.poll(() => gus.page.getByRole("status").textContent()).toBe(`Live in ${room} as Gus ✓`);
    expect(gus.errors).toEqual([]);
  });
});
