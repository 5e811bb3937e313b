/**
 * §5.3 (version 3): a member's role is that of the token presented last for
 * them, on any socket. Proves a demotion holds at once on every socket of
 * the user, across a rebuild, and for a user back within the presence grace.
 * Runs on the chat core in Node (test/support/memory-room.ts).
 */
import { describe, expect, it } from "vitest";
import { MEMORY_SECRET, MemoryRoom } from "../support/memory-room";
import { hs256 } from "../support/tokens";

const admin = () => hs256({ sub: "u-mod", name: "Mod", role: "admin" }, MEMORY_SECRET);
const member = () => hs256({ sub: "u-mod", name: "Mod", role: "member" }, MEMORY_SECRET);
const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

/** A room with the guest Gus, and the same user joined on two sockets with these tokens, in order. */
async function twoSockets(firstToken: string, secondToken: string) {
  const room = new MemoryRoom();
  const [first, second, gus] = [room.open("first"), room.open("second"), room.open("gus")];
  room.send(gus, { type: "join", name: "Gus" });
  await room.send(first, { type: "join", auth: firstToken });
  await room.send(second, { type: "join", auth: secondToken });
  return { room, first, second, gus };
}

describe("a member's role (§5.3)", () => {
  it("lowers the role on every socket when the same user joins again with a member token", async () => {
    const { room, first, second, gus } = await twoSockets(await admin(), await member());
    expect(room.take(second)).toMatchObject([{ type: "welcome", role: "member" }]);
    room.take(first);
    room.send(first, { type: "kick", name: "Gus" });
    room.send(second, { type: "kick", name: "Gus" });
    expect(codes(room.take(first))).toEqual(["forbidden"]);
    expect(codes(room.take(second))).toEqual(["forbidden"]);
    expect(gus.closed).toBeUndefined();
  });

  it("keeps the lowered role after a rebuild from the attachments", async () => {
    const { room, first } = await twoSockets(await admin(), await member());
    room.rebuild();
    room.take(first);
    room.send(first, { type: "kick", name: "Gus" });
    expect(codes(room.take(first))).toEqual(["forbidden"]);
  });

  it("gives a user back within the presence grace the role of the token they return with", async () => {
    const room = new MemoryRoom();
    const [first, gus] = [room.open("first"), room.open("gus")];
    room.send(gus, { type: "join", name: "Gus" });
    await room.send(first, { type: "join", auth: await admin() });
    room.core.closed(first, false);
    first.closed = { code: 1006, reason: "" };
    const back = room.open("back");
    await room.send(back, { type: "join", auth: await member() });
    expect(room.take(back)).toMatchObject([{ type: "welcome", role: "member" }]);
    room.send(back, { type: "kick", name: "Gus" });
    expect(codes(room.take(back))).toEqual(["forbidden"]);
  });

  it("raises the role on every socket as well when the newer token carries a higher one", async () => {
    const { room, first, gus } = await twoSockets(await member(), await admin());
    room.send(first, { type: "kick", name: "Gus" });
    expect(gus.closed?.code).toBe(4003);
  });
});
