/**
 * <edge-chat-room> on other sites' pages, in Chromium (issue 22): host
 * pages served from two more local ports, so from two other origins. The
 * first is in ALLOWED_ORIGINS and its page is as hostile to the element's
 * looks as a page can be (`* { color: red !important; display: block }`);
 * the second is not allowed at all. The host site also plays a login: its
 * token endpoint answers with a visitor's token when their cookie says who
 * they are.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join as joinPath } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNREACHABLE_AFTER } from "../../src/client/connection";
import { launch, say, texts } from "../support/browser";
import { freshRoom } from "../support/client";
import { ROOT } from "../support/paths";
import { type ChatServer, ONE_MACHINE_LOAD, startChat } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const SHOTS = joinPath(ROOT, "test-results", "screenshots");
const README_ELEMENT = (() => {
  const block = /<!-- element-example -->\s*```html\n([\s\S]*?)```/.exec(readFileSync("README.md", "utf8"))?.[1];
  if (!block?.includes('<edge-chat-room room="lobby">')) throw new Error("no element example in the README");
  return block;
})();

/** The host page's CSS at its worst, and a theme through the documented custom properties. */
const HOSTILE_CSS = `
  * { color: red !important; display: block; font-family: serif !important; letter-spacing: 4px; text-transform: uppercase; }
  edge-chat-room { --edge-chat-accent: rgb(0, 128, 0); height: 34rem; }
`;

interface Host {
  origin: string;
  server: Server;
}

/** A host site: `/?room=…&theme=…` embeds the chat; `/token` is its login's token endpoint. */
function startHost(chat: () => string): Promise<Host> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://host");
    if (url.pathname === "/token") {
      // The visitor's login cookie names them; without one they are a guest.
      const who = /(?:^|;\s*)login=(\w+)/.exec(req.headers.cookie ?? "")?.[1];
      const token = who ? await hs256({ sub: `host-${who}`, name: who }) : null;
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token }));
      return;
    }
    const room = url.searchParams.get("room") ?? "lobby";
    const theme = url.searchParams.get("theme") ?? "auto";
    // The README's two lines, as a site would paste them: its server and room, and this test's attributes.
    const element = README_ELEMENT.replace("https://chat.example", chat()).replace(
      'room="lobby"',
      `room="${room}" theme="${theme}" token-endpoint="/token"`,
    );
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A host site</title>
<style>${HOSTILE_CSS}</style></head>
<body><h1>A blog post</h1><p>Comments below.</p>
${element}${url.searchParams.has("second") ? `<edge-chat-room room="${url.searchParams.get("second")}"></edge-chat-room>` : ""}</body></html>`);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ origin: `http://127.0.0.1:${port}`, server });
    }),
  );
}

let chat: ChatServer | undefined;
let allowed: Host | undefined;
let refused: Host | undefined;
let browser: Awaited<ReturnType<typeof launch>> | undefined;
const chatOrigin = () => chat?.origin ?? "";

beforeAll(async () => {
  allowed = await startHost(chatOrigin);
  refused = await startHost(chatOrigin);
  chat = await startChat({
    vars: { ...ONE_MACHINE_LOAD, AUTH_SECRET: TEST_AUTH_SECRET, ALLOWED_ORIGINS: allowed.origin },
  });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await chat?.stop();
  allowed?.server.close();
  refused?.server.close();
});

/** A visitor of `host` (with that site's login cookie, if `login`), on the page embedding `room`. */
async function visit(
  host: Host | undefined,
  room: string,
  options: { login?: string; theme?: string; second?: string } = {},
) {
  if (!browser || !host) throw new Error("the suite did not start");
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  if (options.login) await context.addCookies([{ name: "login", value: options.login, url: host.origin }]);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const second = options.second === undefined ? "" : `&second=${options.second}`;
  await page.goto(`${host.origin}/?room=${room}&theme=${options.theme ?? "auto"}${second}`);
  return { page, errors };
}

/** A style of an element inside the chat's shadow root (Playwright's locators pierce it). */
function style(page: Page, selector: string, property: string): Promise<string> {
  return page
    .locator(`edge-chat-room ${selector}`)
    .first()
    .evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), property);
}

describe("<edge-chat-room> on another site", () => {
  it("serves /embed.js to other origins as a module script may be fetched (CORS)", async () => {
    const res = await fetch(`${chatOrigin()}/embed.js`, { headers: { Origin: allowed?.origin ?? "" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("content-type")).toContain("javascript");
    expect(await res.text()).toContain("edge-chat-room");
  });

  it("lets a guest and a visitor signed in by the host's token endpoint chat through it", async () => {
    const room = freshRoom("e2e-embed");
    const ann = await visit(allowed, room);
    const ben = await visit(allowed, room, { login: "Ben" });
    // The room is the host's choice: no room field, and the same names as the page.
    await expect.poll(() => ann.page.getByRole("textbox", { name: "Room" }).isVisible()).toBe(false);
    await ann.page.getByRole("textbox", { name: "Name" }).fill("Ann");
    await ann.page.getByRole("button", { name: "Join" }).click();
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain(`Live in ${room} as Ann`);

    // Ben's login reaches the element through the host's endpoint, with his cookie.
    await expect.poll(() => ben.page.locator("edge-chat-room #identity").textContent()).toContain("signed in as Ben");
    await ben.page.getByRole("button", { name: "Join" }).click();
    await expect.poll(() => ben.page.getByRole("status").textContent()).toContain("as Ben ✓");

    await say(ann.page, "hello from the blog");
    await ben.page.locator("edge-chat-room .msg", { hasText: "hello from the blog" }).waitFor();
    await say(ben.page, "hi Ann");
    await expect.poll(() => texts(ann.page)).toEqual(["hello from the blog", "hi Ann"]);
    expect(await ann.page.locator("edge-chat-room .msg", { hasText: "hi Ann" }).locator(".verified").count()).toBe(1);
    expect(ann.errors).toEqual([]);
    expect(ben.errors).toEqual([]);
  });

  it("keeps its own look on a page whose CSS recolours and re-lays-out everything", async () => {
    const room = freshRoom("e2e-embed");
    const { page } = await visit(allowed, room, { theme: "light" });
    await page.getByRole("textbox", { name: "Name" }).fill("Cat");
    await page.getByRole("button", { name: "Join" }).click();
    await say(page, "still readable");
    await page.locator("edge-chat-room .msg", { hasText: "still readable" }).waitFor();

    // The host's page itself is red, uppercase and serif...
    expect(await page.locator("h1").evaluate((el) => getComputedStyle(el).color)).toBe("rgb(255, 0, 0)");
    // ...the chat inside is not.
    expect(await style(page, ".msg .text", "color")).toBe("rgb(27, 29, 33)");
    expect(await style(page, ".msg .text", "text-transform")).toBe("none");
    expect(await style(page, ".msg .text", "letter-spacing")).toBe("normal");
    expect(await style(page, ".msg .text", "font-family")).not.toContain("serif;");
    expect(await style(page, ".msg .text", "font-family")).toContain("system-ui");
    // Hidden parts stay hidden (the host's `display: block` does not reach them).
    expect(await page.locator("edge-chat-room #lobby").isVisible()).toBe(false);
    expect(await page.locator("edge-chat-room #mod-dialog").isVisible()).toBe(false);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: joinPath(SHOTS, "embed-hostile-host.png") });
    // The theme: light as asked, and the accent the host set through --edge-chat-accent.
    expect(await style(page, ".edge-chat", "background-color")).toBe("rgb(255, 255, 255)");
    expect(await style(page, "#send-form button[type=submit]", "background-color")).toBe("rgb(0, 128, 0)");
    // Its CSS does not leak out: the host's own paragraph keeps the host's look.
    expect(await page.locator("body > p").evaluate((el) => getComputedStyle(el).textTransform)).toBe("uppercase");
  });

  it("runs two elements on one page as two independent chats", async () => {
    const [first, second] = [freshRoom("e2e-embed"), freshRoom("e2e-embed")];
    const { page, errors } = await visit(allowed, first, { second });
    const [one, two] = [page.locator("edge-chat-room").nth(0), page.locator("edge-chat-room").nth(1)];
    for (const [chat, name] of [
      [one, "Dan"],
      [two, "Dot"],
    ] as const) {
      await chat.getByRole("textbox", { name: "Name" }).fill(name);
      await chat.getByRole("button", { name: "Join" }).click();
      await expect.poll(() => chat.locator("#status").textContent()).toContain(`as ${name}`);
    }
    await one.getByRole("textbox", { name: "Message" }).fill("only in the first room");
    await one.getByRole("button", { name: "Send" }).click();
    await two.getByRole("textbox", { name: "Message" }).fill("only in the second room");
    await two.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => one.locator("#messages .msg .text").allTextContents()).toEqual(["only in the first room"]);
    await expect.poll(() => two.locator("#messages .msg .text").allTextContents()).toEqual(["only in the second room"]);
    expect(await one.locator("#status").textContent()).toContain(first);
    expect(await two.locator("#status").textContent()).toContain(second);
    expect(errors).toEqual([]);
  });

  it("leaves the room cleanly when the host takes the element off its page: the name is free at once", async () => {
    const room = freshRoom("e2e-embed");
    const ann = await visit(allowed, room);
    const ben = await visit(allowed, room);
    for (const [who, name] of [
      [ann, "Ann"],
      [ben, "Ben"],
    ] as const) {
      await who.page.getByRole("textbox", { name: "Name" }).fill(name);
      await who.page.getByRole("button", { name: "Join" }).click();
      await expect.poll(() => who.page.locator("edge-chat-room #status").textContent()).toContain(`as ${name}`);
    }
    await expect.poll(() => ben.page.locator("edge-chat-room #count").textContent()).toBe("(2)");
    await ann.page.evaluate(() => document.querySelector("edge-chat-room")?.remove());
    await expect.poll(() => ben.page.locator("edge-chat-room #count").textContent()).toBe("(1)");
    // A clean leave (§5.4): no grace holds the name.
    const again = await visit(allowed, room);
    await again.page.getByRole("textbox", { name: "Name" }).fill("Ann");
    await again.page.getByRole("button", { name: "Join" }).click();
    await expect.poll(() => again.page.locator("edge-chat-room #status").textContent()).toContain("as Ann");
    expect(ann.errors).toEqual([]);
  });

  it("follows theme=dark whatever the system prefers", async () => {
    const { page } = await visit(allowed, freshRoom("e2e-embed"), { theme: "dark" });
    await page.getByRole("button", { name: "Join" }).waitFor();
    expect(await style(page, ".edge-chat", "background-color")).toBe("rgb(21, 23, 27)");
    expect(await style(page, ".edge-chat", "color")).toBe("rgb(230, 232, 235)");
  });

  it("says it could not connect on a site whose origin is not allowed, and stops trying", async () => {
    const { page, errors } = await visit(refused, freshRoom("e2e-embed"));
    let sockets = 0;
    page.on("websocket", () => sockets++);
    await page.getByRole("textbox", { name: "Name" }).fill("Eve");
    await page.getByRole("button", { name: "Join" }).click();
    const alert = page.locator("edge-chat-room").getByRole("alert").filter({ hasText: "Could not connect" });
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toContain("Could not connect to the chat");
    expect(await page.locator("edge-chat-room #status").textContent()).toBe("Could not connect to the chat");
    expect(await page.getByRole("button", { name: "Join" }).isVisible()).toBe(true);
    // A few tries (a server that is down for a moment), then no more.
    expect(sockets).toBe(UNREACHABLE_AFTER);
    await page.waitForTimeout(1500);
    expect(sockets).toBe(UNREACHABLE_AFTER);
    // The browser's own console lines about the refused handshake are its, not the element's.
    expect(errors).toEqual([]);
  });
});
