/**
 * Debian's Chromium driven by playwright-core (`npx playwright install`
 * cannot download browsers here). One browser per suite; one context per
 * person, so each has its own storage, like separate people on separate
 * machines.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { launch } from "../../scripts/lib/browser.mjs";
import { type ChatServer, startChat } from "./server";
import { hs256 } from "./tokens";

export { launch };

/**
 * A suite's Chromium and chat server (with these vars), started before the
 * file's tests and stopped after them. Read them inside tests only.
 */
export function browserSuite(vars: Record<string, string | number>): {
  readonly browser: Browser;
  readonly server: ChatServer;
} {
  let browser: Browser | undefined;
  let server: ChatServer | undefined;
  beforeAll(async () => {
    browser = await launch();
    server = await startChat({ vars });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("browserSuite: read before beforeAll ran");
    return value;
  };
  return {
    get browser() {
      return started(browser);
    },
    get server() {
      return started(server);
    },
  };
}

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

/**
 * Where the test servers tell the page to get identity tokens (AUTH_ENDPOINT).
 * Playwright plays the host site behind it: a context's route answers with
 * that person's token, as a site's login cookie would.
 */
export const AUTH_ENDPOINT = "/auth/chat-token";

/** A browser context whose site login says it is `sub`: every page in it signs in. */
export async function signedInContext(
  browser: Browser,
  origin: string,
  claims: { sub: string; name: string; role?: string },
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, baseURL: origin });
  await context.route(`**${AUTH_ENDPOINT}`, async (route) => route.fulfill({ json: { token: await hs256(claims) } }));
  return context;
}

/** Opens the page, waits until it knows who is signed in, and joins `room` with the name field left empty. */
export async function enterSignedIn(page: Page, room: string): Promise<void> {
  await page.goto("/");
  await expect.poll(() => page.locator("#identity").textContent()).toContain("signed in as");
  await page.getByRole("textbox", { name: "Room" }).fill(room);
  await page.getByRole("button", { name: "Join" }).click();
  await expect.poll(() => page.getByRole("status").textContent()).toContain("Live");
}
