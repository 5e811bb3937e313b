/**
 * §2.1: a welcome carries only the newest messages that fit its byte
 * budget, with `gap`. The page then fetches the rest of the room's history
 * over HTTP instead of only saying something was missed. A small
 * WELCOME_HISTORY_BYTES makes a short history overflow it.
 */
import { describe, expect, it } from "vitest";
import { browserSuite, join, person, texts } from "../support/browser";
import { ChatClient, freshRoom } from "../support/client";
import { ONE_MACHINE_LOAD } from "../support/server";

const suite = browserSuite({ ...ONE_MACHINE_LOAD, RATE_BURST: 100, RATE_PER_SEC: 100, WELCOME_HISTORY_BYTES: 2000 });

describe("a welcome that did not hold the whole history", () => {
  it("shows every message of the room in order, the ones the welcome left out fetched over HTTP", async () => {
    const room = freshRoom("e2e");
    const bot = await ChatClient.connect(suite.server.wsUrl(room));
    await bot.join("Bot");
    const sent = Array.from({ length: 30 }, (_, i) => `message ${i} ${"·".repeat(80)}`);
    for (const text of sent) {
      bot.send({ type: "chat", text });
      await bot.next("chat");
    }
    const late = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await late.join("Late");
    expect([welcome.gap, welcome.history.length < sent.length]).toEqual([true, true]);

    const ann = await person(suite.browser, suite.server.origin);
    await join(ann.page, room, "Ann");
    await expect.poll(() => texts(ann.page)).toEqual(sent);
    expect(await ann.page.locator("#messages .notice", { hasText: "missed" }).count()).toBe(0);
    expect(ann.errors).toEqual([]);
    await Promise.all([bot.close(), late.close()]);
  });
});
