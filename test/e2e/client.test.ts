/**
 * The browser client in real Chromium against the bundled worker on
 * Miniflare (static assets, _headers and all). People are browser contexts;
 * where a test needs a steady poster it uses the Node protocol client.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { browserSuite, join, person, say, texts } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ROOT } from "../support/paths";
import { ONE_MACHINE_LOAD, startChat } from "../support/server";

const SHOTS = joinPath(ROOT, "test-results", "screenshots");

// A generous rate limit: posters here send faster than a person.
const suite = browserSuite({ ...ONE_MACHINE_LOAD, RATE_BURST: 100, RATE_PER_SEC: 100 });

describe("chatting", () => {
  it("lets two people join the same room and chat both ways, with the roster live", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    const ben = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Live");
    await join(ben.page, room, "Ben");

    // Ann's roster gains Ben without a reload.
    await ann.page.locator("#users").getByText("Ben").waitFor();
    expect(await ann.page.locator("#count").textContent()).toBe("(2)");

    await say(ann.page, "hello Ben");
    await ben.page.locator("#messages .msg", { hasText: "hello Ben" }).waitFor();
    await say(ben.page, "hi Ann");
    await ann.page.locator("#messages .msg", { hasText: "hi Ann" }).waitFor();
    expect(await texts(ann.page)).toEqual(["hello Ben", "hi Ann"]);
    expect(await texts(ben.page)).toEqual(["hello Ben", "hi Ann"]);

    // Own messages are marked; the sender's name and a local time are shown.
    const own = ann.page.locator("#messages .msg", { hasText: "hello Ben" });
    expect(await own.getAttribute("class")).toContain("mine");
    expect(await own.locator(".who").textContent()).toBe("Ann");
    expect(await own.locator("time").textContent()).toMatch(/\d{1,2}.\d{2}/);

    // Ben leaves: Ann's roster follows.
    await ben.page.getByRole("button", { name: "Leave" }).click();
    await expect.poll(() => ann.page.locator("#count").textContent()).toBe("(1)");

    mkdirSync(SHOTS, { recursive: true });
    await ann.page.screenshot({ path: joinPath(SHOTS, "room-desktop.png") });
    expect(ann.errors).toEqual([]);
    expect(ben.errors).toEqual([]);
  });

  it("opens its sockets without compression, though Chromium offers permessage-deflate", async () => {
    const ann = await person(suite.browser, suite.server.origin);
    // From the page, so the handshake carries its Origin, as the client's own sockets do.
    await ann.page.goto("/");
    const agreed = await ann.page.evaluate(
      async (url) => {
        const ws = new WebSocket(url);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        ws.close();
        return ws.extensions;
      },
      suite.server.wsUrl(freshRoom("e2e")),
    );
    expect(agreed).toBe("");
    expect(ann.errors).toEqual([]);
  });

  it("sends with Enter and shows the history of the room before live messages", async () => {
    const room = freshRoom("e2e");
    const poster = await ChatClient.connect(suite.server.wsUrl(room));
    await poster.join("Pat");
    for (const text of ["one", "two"]) {
      poster.send({ type: "chat", text });
      await poster.next("chat");
    }
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await ann.page.locator("#messages .msg", { hasText: "two" }).waitFor();
    poster.send({ type: "chat", text: "three" });
    await ann.page.locator("#messages .msg", { hasText: "three" }).waitFor();
    await ann.page.getByRole("textbox", { name: "Message" }).fill("four");
    await ann.page.getByRole("textbox", { name: "Message" }).press("Enter");
    await expect.poll(() => texts(ann.page)).toEqual(["one", "two", "three", "four"]);
    await poster.close();
  });

  it("shows a taken name as an error by the join form, in any case", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await ann.page.locator("#users").getByText("Ann").waitFor();
    const other = await person(suite.browser, suite.server.origin);
    await join(other.page, room, "ANN");
    const alert = other.page.locator("#join-error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("already in use");
    expect(await other.page.getByRole("button", { name: "Join" }).isVisible()).toBe(true);
  });

  it("delivers a direct message only to the chosen person, and Esc returns to everyone", async () => {
    const room = freshRoom("e2e");
    const [ann, ben, cat] = [
      await person(suite.browser, suite.server.origin),
      await person(suite.browser, suite.server.origin),
      await person(suite.browser, suite.server.origin),
    ];
    await join(ann.page, room, "Ann");
    await join(ben.page, room, "Ben");
    await join(cat.page, room, "Cat");
    await ann.page.locator("#users").getByRole("button", { name: "Ben" }).click();
    expect(await ann.page.locator("#dm-target").isVisible()).toBe(true);
    await say(ann.page, "psst, Ben");

    const received = ben.page.locator("#messages .msg.dm", { hasText: "psst, Ben" });
    await received.waitFor();
    expect(await received.locator(".who").textContent()).toBe("Ann → you");
    await ann.page.locator("#messages .msg.dm", { hasText: "psst, Ben" }).waitFor();

    await ann.page.keyboard.press("Escape");
    expect(await ann.page.locator("#dm-target").isVisible()).toBe(false);
    // A public message after the dm: once Cat has it, Cat would have had the dm too.
    await say(ann.page, "hello all");
    await cat.page.locator("#messages .msg", { hasText: "hello all" }).waitFor();
    expect(await cat.page.locator("#messages").textContent()).not.toContain("psst");
    expect(await ben.page.locator("#messages .msg:not(.dm)", { hasText: "hello all" }).count()).toBe(1);
  });

  it("shows an error from the server next to the input, and refuses an over-long message before sending", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await ann.page.locator("#users").getByText("Ann").waitFor();
    await ann.page.getByRole("textbox", { name: "Message" }).fill("x".repeat(2001));
    await ann.page.getByRole("button", { name: "Send" }).click();
    expect(await ann.page.locator("#send-error").textContent()).toContain("at most 2000");
    expect(await ann.page.locator("#counter").textContent()).toBe("2001 / 2000");
  });

  it("shows rate_limited by the input and still delivers every message once, in order", async () => {
    const strict = await startChat({ vars: { RATE_BURST: 3, RATE_PER_SEC: 1 } });
    try {
      const ann = await person(suite.browser, strict.origin);
      await join(ann.page, freshRoom("e2e"), "Ann");
      await ann.page.locator("#users").getByText("Ann").waitFor();
      const sent = ["m1", "m2", "m3", "m4", "m5"];
      for (const text of sent) await say(ann.page, text);
      await expect.poll(() => ann.page.locator("#send-error").textContent()).toContain("too fast");
      await expect.poll(() => texts(ann.page), { timeout: 10_000 }).toEqual(sent);
      expect(await ann.page.locator("#outbox .msg").count()).toBe(0);
    } finally {
      await strict.stop();
    }
  });
});

describe("safety", () => {
  it("renders markup in a name and a message as text and runs none of it", async () => {
    const room = freshRoom("e2e");
    const evilName = "<img src=x onerror=alert(1)>";
    const evilText = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>";
    const ann = await person(suite.browser, suite.server.origin);
    const dialogs: string[] = [];
    ann.page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const mallory = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await join(mallory.page, room, evilName);
    await say(mallory.page, evilText);
    const item = ann.page.locator("#messages .msg", { hasText: "<script>" });
    await item.waitFor();
    expect(await item.locator(".who").textContent()).toBe(evilName);
    expect(await item.locator(".text").textContent()).toBe(evilText);
    expect(await ann.page.locator("#users").textContent()).toContain(evilName);
    expect(dialogs).toEqual([]);
    expect(await ann.page.locator("#messages img, #users img, #messages script").count()).toBe(0);
    expect(await ann.page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(ann.errors).toEqual([]);
  });

  it("is served with a CSP that blocks inline script", async () => {
    const ann = await person(suite.browser, suite.server.origin);
    const res = await ann.page.goto("/");
    const csp = (await res?.allHeaders())?.["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    // The policy is enforced: an inline script added to the page does not run.
    await ann.page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.append(s);
    });
    expect(await ann.page.evaluate(() => (window as { __inline?: number }).__inline)).toBeUndefined();
  });
});

describe("layout", () => {
  it("fits a 360 px wide phone without sideways scrolling", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin, { width: 360, height: 740 });
    await join(ann.page, room, "Ann");
    await say(ann.page, "A long message that has to wrap on a small screen, with a longwordthatkeepsgoingandgoing.");
    await ann.page.locator("#messages .msg").waitFor();
    const overflow = await ann.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await ann.page.getByRole("button", { name: "Send" }).isVisible()).toBe(true);
    mkdirSync(SHOTS, { recursive: true });
    await ann.page.screenshot({ path: joinPath(SHOTS, "room-phone.png") });
  });

  it("does not yank a reader who scrolled up; it offers a jump instead", async () => {
    const room = freshRoom("e2e");
    const poster = await ChatClient.connect(suite.server.wsUrl(room));
    await poster.join("Pat");
    const ann = await person(suite.browser, suite.server.origin, { width: 800, height: 500 });
    await join(ann.page, room, "Ann");
    await ann.page.locator("#users").getByText("Pat").waitFor();
    for (let i = 0; i < 30; i++) {
      poster.send({ type: "chat", text: `filler ${i}`, id: `f${i}` });
      await poster.next("chat");
    }
    await ann.page.locator("#messages .msg", { hasText: "filler 29" }).waitFor();
    await ann.page.evaluate(() => window.scrollTo(0, 0));
    poster.send({ type: "chat", text: "while you read" });
    await ann.page.locator("#messages .msg", { hasText: "while you read" }).waitFor();
    expect(await ann.page.evaluate(() => window.scrollY)).toBe(0);
    const jump = ann.page.getByRole("button", { name: "New messages below" });
    expect(await jump.isVisible()).toBe(true);
    await jump.click();
    await expect.poll(() => ann.page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
    await poster.close();
  });
});

describe("reconnecting", () => {
  it("shows Offline when the browser loses the network, queues what is typed, and sends it once back online", async () => {
    const room = freshRoom("e2e");
    const ann = await person(suite.browser, suite.server.origin);
    const ben = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await join(ben.page, room, "Ben");
    await ann.page.locator("#users").getByText("Ben").waitFor();

    await ann.page.context().setOffline(true);
    await expect.poll(() => ann.page.getByRole("status").textContent()).toContain("Offline");
    await say(ann.page, "written on the train");
    await ann.page.locator("#outbox .msg.pending", { hasText: "written on the train" }).waitFor();

    await ann.page.context().setOffline(false);
    await expect.poll(() => ann.page.getByRole("status").textContent(), { timeout: 10_000 }).toContain("Live");
    await ben.page.locator("#messages .msg", { hasText: "written on the train" }).waitFor();
    await expect.poll(() => ann.page.locator("#outbox .msg").count()).toBe(0);
    expect(await texts(ben.page)).toEqual(["written on the train"]);
    expect(await texts(ann.page)).toEqual(["written on the train"]);
    // Ann is back under her name, once.
    expect(await ben.page.locator("#users").textContent()).toContain("Ann");
    expect(await ben.page.locator("#count").textContent()).toBe("(2)");
  });

  const dir = mkdtempSync(joinPath(tmpdir(), "edge-chat-e2e-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("survives a server restart: every message exactly once, in seq order, and the offline one sent", async () => {
    const room = freshRoom("e2e");
    let restartable = await startChat({ persistDir: dir });
    const port = Number(new URL(restartable.origin).port);
    try {
      const ann = await person(suite.browser, restartable.origin);
      await join(ann.page, room, "Ann");
      await ann.page.locator("#users").getByText("Ann").waitFor();

      const posted: string[] = [];
      const post = async (client: ChatClient, text: string) => {
        client.send({ type: "chat", text, id: text });
        await client.next("chat");
        posted.push(text);
      };
      let pat = await ChatClient.connect(restartable.wsUrl(room));
      await pat.join("Pat");
      for (let i = 1; i <= 5; i++) await post(pat, `before ${i}`);

      await restartable.stop();
      await expect.poll(() => ann.page.getByRole("status").textContent()).toMatch(/Reconnecting/);
      // Typed while the server is down: queued, shown as pending.
      await say(ann.page, "typed while offline");
      await ann.page.locator("#outbox .msg.pending", { hasText: "typed while offline" }).waitFor();

      restartable = await startChat({ persistDir: dir, port });
      pat = await ChatClient.connect(restartable.wsUrl(room));
      await pat.join("Pat");
      // Pat keeps posting while Ann's page is still backing off.
      for (let i = 1; i <= 5; i++) await post(pat, `after ${i}`);

      await expect.poll(() => ann.page.getByRole("status").textContent(), { timeout: 20_000 }).toContain("Live");
      await expect.poll(() => ann.page.locator("#outbox .msg").count()).toBe(0);
      await ann.page.locator("#messages .msg", { hasText: "after 5" }).waitFor();

      const shown = await texts(ann.page);
      expect(shown.filter((t) => t === "typed while offline")).toHaveLength(1);
      expect(shown.filter((t) => t !== "typed while offline")).toEqual(posted);
      const seqs = (await ann.page
        .locator("#messages .msg[data-seq]")
        .evaluateAll((els) => els.map((el) => Number((el as HTMLElement).dataset.seq)))) as number[];
      expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      expect(ann.errors.filter((e) => !e.includes("WebSocket"))).toEqual([]);
      await pat.close();
    } finally {
      await restartable.stop();
    }
  });
});
