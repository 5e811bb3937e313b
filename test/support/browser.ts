/**
 * Debian's Chromium driven by playwright-core (`npx playwright install`
 * cannot download browsers here). One browser per suite; one context per
 * person, so each has its own storage, like separate people on separate
 * machines.
 */
import type { Browser, Page } from "playwright-core";

export { launch } from "../../scripts/lib/browser.mjs";

export interface Person {
  page: Page;
  /** Uncaught page errors and console errors, so a test can assert there were none. */
  errors: string[];
}

export async function person(
  browser: Browser,
  origin: string,
  viewport = { width: 1100, height: 760 },
): Promise<Person> {
  const context = await browser.newContext({ viewport, baseURL: origin });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  return { page, errors };
}

/** Joins through the form, by the accessible names outside tools use. */
export async function join(page: Page, room: string, name: string, path = "/"): Promise<void> {
  await page.goto(path);
  await page.getByRole("textbox", { name: "Room" }).fill(room);
  await page.getByRole("textbox", { name: "Name" }).fill(name);
  await page.getByRole("button", { name: "Join" }).click();
}

export async function say(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

/** The texts of the conversation's chat messages, in page order. */
export function texts(page: Page): Promise<string[]> {
  return page.locator("#messages .msg:not(.dm) .text").allTextContents();
}
