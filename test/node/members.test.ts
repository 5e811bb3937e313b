/**
 * The room's members and sockets (src/room/state/members.ts), directly:
 * joins, hand-overs, the away rows and a rebuild after a wake-up.
 */
import { describe, expect, it } from "vitest";
import { Members } from "../../src/room/state/members";
import { newSocketState, type SocketState } from "../../src/room/state/socket-state";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { nameKey } from "../../src/shared/names";
import { fullBucket } from "../../src/shared/rate-limit";
import { MemoryAwayStore } from "../support/memory-room";

describe("members", () => {
  type Socket = { id: string };
  const state = (address: string, name?: string, order = 0, user?: string): SocketState => ({
    ...newSocketState(DEFAULT_LIMITS, address, 0),
    ...(name ? { member: { name, key: nameKey(name), token: "t", order, ...(user ? { user } : {}) } } : {}),
  });
  const saved: Array<[string, SocketState]> = [];
  const away = new MemoryAwayStore();
  const members = () => new Members<Socket>((socket, s) => saved.push([socket.id, structuredClone(s)]), away);
  const bucket = fullBucket(DEFAULT_LIMITS.rateBurst, 0);

  it("restores join order from attachments in any order and continues numbering after it", () => {
    const m = members();
    const [a, b, c, d] = [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }];
    m.restore([
      [c, state("x", "C", 7)],
      [a, state("x", "A", 2)],
      [b, state("x", "B", 5)],
    ]);
    expect(m.names()).toEqual(["A", "B", "C"]);
    m.open(d, state("x"));
    expect(m.join(d, { name: "D", key: "d", token: "t" }, bucket).member.order).toBe(8);
  });

  it("restores a verified user's several sockets as one member, and a guest's duplicate as nobody", () => {
    const m = members();
    const [u1, u2, g1, g2] = [{ id: "u1" }, { id: "u2" }, { id: "g1" }, { id: "g2" }];
    m.restore([
      [u1, state("x", "Ann", 0, "sub-ann")],
      [u2, state("x", "Ann", 0, "sub-ann")],
      [g1, state("x", "Ben", 1)],
      [g2, state("x", "Ben", 1)],
    ]);
    expect(m.names()).toEqual(["Ann", "Ben"]);
    expect(m.ofUser("sub-ann")?.sockets).toEqual([u1, u2]);
    expect(m.holder(nameKey("Ben"))?.sockets).toEqual([g1]);
    expect(m.stateOf(g2)?.member).toBeUndefined();
  });

  it("keeps a name's place when it is handed to a new socket, and the old socket then frees nothing", () => {
    const m = members();
    const [a1, a2, b] = [{ id: "a1" }, { id: "a2" }, { id: "b" }];
    m.restore([
      [a1, state("x", "A", 0)],
      [b, state("x", "B", 1)],
    ]);
    m.open(a2, state("x"));
    const membership = m.holder(nameKey("A"));
    if (!membership) throw new Error("A is not held");
    expect(m.handOver(membership, a2)).toBe(a1);
    expect(m.names()).toEqual(["A", "B"]);
    expect(m.close(a1).kind).toBe("none");
    const last = m.close(a2);
    expect(last.kind === "left" && last.membership.member.name).toBe("A");
    expect(m.names()).toEqual(["B"]);
  });

  it("keeps a member whose last socket dropped, as a row, until they return", () => {
    const m = members();
    const [a, again] = [{ id: "a" }, { id: "again" }];
    m.open(a, state("x"));
    m.join(a, { name: "Ann", key: nameKey("Ann"), token: "t" }, bucket);
    expect(m.close(a, 5000).kind).toBe("away");
    expect([m.names(), [...away.rows.keys()]]).toEqual([["Ann"], [nameKey("Ann")]]);
    const rebuilt = members();
    rebuilt.restore([], away.load());
    const membership = rebuilt.holder(nameKey("Ann"));
    if (!membership) throw new Error("Ann is not held after a rebuild");
    rebuilt.open(again, state("x"));
    rebuilt.attach(membership, again, bucket);
    expect([membership.awayUntil, away.rows.size, rebuilt.joinedSockets().next().value]).toEqual([undefined, 0, again]);
  });

  it("refuses to join a name that is already held", () => {
    const m = members();
    const [a, x] = [{ id: "a" }, { id: "x" }];
    m.restore([[a, state("x", "A", 0)]]);
    m.open(x, state("x"));
    expect(() => m.join(x, { name: "a", key: nameKey("a"), token: "t" }, bucket)).toThrow();
  });

  it("writes the socket's state through on every change, so hibernation keeps it", () => {
    const m = members();
    const a = { id: "a" };
    saved.length = 0;
    m.open(a, state("x"));
    m.join(a, { name: "Ann", key: nameKey("Ann"), token: "t" }, bucket);
    m.leave(a);
    expect(saved.map(([id, s]) => [id, s.member?.name])).toEqual([
      ["a", undefined],
      ["a", "Ann"],
      ["a", undefined],
    ]);
  });

  it("counts sockets per address, joined or not, and frees the count on close", () => {
    const m = members();
    const [a, b, c] = [{ id: "a" }, { id: "b" }, { id: "c" }];
    m.open(a, state("1.2.3.4"));
    m.open(b, state("1.2.3.4"));
    m.open(c, state("5.6.7.8"));
    expect([m.socketsOf("1.2.3.4"), m.socketsOf("5.6.7.8"), m.sockets, m.size]).toEqual([2, 1, 3, 0]);
    m.close(a);
    expect(m.socketsOf("1.2.3.4")).toBe(1);
  });
});
