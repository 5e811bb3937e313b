/**
 * §2.5 (edge-chat's bounds on one socket): one socket once made the runtime grow without bound.
 * With the ring full of large messages, every `welcome` was ~1 MB in answer
 * to a 29-byte `join`; a socket that sent leave/join pairs and never read
 * its end made workerd buffer every welcome (94 MB to 4.1 GB in 6.4 s).
 *
 * This plays that attacker against the real runtime and reads workerd's
 * resident memory from /proc before and after. The texts are 2,000 random
 * emoji (8 KB of UTF-8 each; control characters, the original ×6
 * amplifier, are refused since v2), so a welcome carrying the whole ring is
 * ~800 KB, and the attacker turns permessage-deflate off so none of it
 * shrinks. What bounds it now: JOINS_PER_MINUTE per socket,
 * WELCOME_HISTORY_BYTES per welcome and REPLY_BYTES_PER_MINUTE per socket
 * (here ~1 MB in all). The run with those bounds lifted is the control: it
 * must blow past the bound, or this test proves nothing. Measured here for
 * 300 pairs: +2 MB bounded, +290 MB unbounded (600 pairs: +575 MB).
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { type ChatServer, chatSuite } from "../support/server";

const FILLER = "127.0.0.3";
const ATTACKER = "127.0.0.2";
const PAIRS = 300;
const BOUND = 32 * 1024 * 1024;
const FAST_FILLER = { RATE_BURST: 200, RATE_PER_SEC: 200, ADDRESS_RATE_BURST: 200, ADDRESS_RATE_PER_SEC: 200 };
/** The bounds of §2.5 (joins, welcome bytes, reply bytes), switched off. */
const UNBOUNDED = { JOINS_PER_MINUTE: 100_000, WELCOME_HISTORY_BYTES: 100_000_000, REPLY_BYTES_PER_MINUTE: 1e12 };

/** Fills a fresh room's ring, then lets a non-reading socket churn joins; returns the RSS growth and what the filler heard. */
async function attack(server: ChatServer): Promise<{ grew: number; joinedHeard: number }> {
  const room = freshRoom();
  const filler = await ChatClient.connect(server.wsUrl(room), {}, FILLER);
  await filler.join("Filler");
  // 2,000 random emoji per message: 8 KB of UTF-8 that compression cannot shrink.
  for (let i = 0; i < 100; i++) filler.send({ type: "chat", text: randomEmoji(2000), id: `fill-${i}` });
  await expect.poll(() => filler.inbox.filter((f) => f.type === "chat").length, { timeout: 20_000 }).toBe(100);
  filler.inbox.length = 0;
  const before = server.rssBytes();

  // No permessage-deflate: the runtime then holds every byte it cannot send.
  const attacker = await ChatClient.connect(server.wsUrl(room), {}, ATTACKER, false);
  attacker.ws.pause(); // never reads: everything sent to it stays in the runtime
  for (let i = 0; i < PAIRS; i++) {
    attacker.sendRaw('{"type":"join","name":"Mallory"}');
    attacker.sendRaw('{"type":"leave"}');
  }
  // The room broadcasts `joined`/`left` for each pair it accepts; once two
  // round trips in a row bring none, it has dealt with the attacker's frames.
  let joinedHeard = 0;
  let quiet = 0;
  while (quiet < 2) {
    // Long: without the bounds the room is busy building welcomes for seconds.
    const frames = await filler.sync(60_000);
    const presence = frames.filter((f) => f.type === "joined" || f.type === "left");
    joinedHeard += presence.filter((f) => f.type === "joined").length;
    quiet = presence.length === 0 ? quiet + 1 : 0;
    if (quiet === 0) await new Promise((r) => setTimeout(r, 100));
  }
  const grew = server.rssBytes() - before;
  console.log(`runtime grew ${Math.round(grew / 1e6)} MB; the bystander heard ${joinedHeard} joins`);
  attacker.terminate();
  await filler.close();
  return { grew, joinedHeard };
}

/** `n` emoji from U+1F300–U+1F5FF, from a fixed-seed generator (the runs are repeatable). */
function randomEmoji(n: number): string {
  let seed = 0x2545f491;
  let out = "";
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    out += String.fromCodePoint(0x1f300 + (seed % 0x300));
  }
  return out;
}

describe("one socket that never reads", () => {
  const suite = chatSuite({ vars: FAST_FILLER });

  it("cannot make the runtime hold more than 32 MB for it, and others hear at most JOINS_PER_MINUTE joins", async () => {
    const { grew, joinedHeard } = await attack(suite.server);
    // At most 20; fewer when the socket's reply bytes run out first.
    expect(joinedHeard).toBeGreaterThan(0);
    expect(joinedHeard).toBeLessThanOrEqual(20);
    expect(grew).toBeLessThan(BOUND);
  }, 60_000);
});

describe("the same attack with the per-socket bounds lifted (the control)", () => {
  const suite = chatSuite({ vars: { ...FAST_FILLER, ...UNBOUNDED } });

  it("grows the runtime past the bound: the measurement can see the attack", async () => {
    const { grew, joinedHeard } = await attack(suite.server);
    expect(joinedHeard).toBe(PAIRS);
    expect(grew).toBeGreaterThan(BOUND);
  }, 60_000);
});
