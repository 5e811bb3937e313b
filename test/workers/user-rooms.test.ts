/**
 * §10.3: a user's list asks every listed room for its counts, each within
 * ROOM_ANSWER_MS, so one slow or broken room cannot stall the list. Inside
 * workerd, a second UserRooms is built over the live object's state with
 * rooms that answer, never answer, or fail, as the runtime's restore path
 * builds it; what the list returns is checked, not how long it took.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RoomReadState } from "../../src/user/notes";
import { UserRooms } from "../../src/user/user-rooms";

type Answer = (room: string) => Promise<RoomReadState>;

/** The user's object over its live state, with rooms that answer `readState` as `answer` says. */
function withRooms(state: DurableObjectState, answer: Answer): UserRooms {
  const rooms = { getByName: (room: string) => ({ readState: () => answer(room) }) };
  // Only `getByName(room).readState(user)` of the namespace is used by a list.
  return new UserRooms(state, { ...env, ROOMS: rooms as unknown as Env["ROOMS"] });
}

const counts = (seq: number, unread: number): RoomReadState => ({
  seq,
  lastRead: seq - unread,
  unread,
  mentions: 0,
  ts: 1_000 + seq,
  active: 1_000 + seq,
});

describe("a user's list of rooms", () => {
  it("lists a room that does not answer within ROOM_ANSWER_MS, or fails, with the counts it gave last", async () => {
    const stub = env.USERS.getByName("list-slow-rooms");
    for (const room of ["quiet", "stuck", "broken"]) await stub.note({ kind: "joined", room, ts: 1_000 });

    await runInDurableObject(stub, async (_live, state) => {
      // A first list, where every room answers: these counts are kept.
      const first = await withRooms(state, async (room) => counts(room === "quiet" ? 10 : 20, 2)).list(undefined);
      expect(first?.map((r) => [r.room, r.seq, r.unread])).toEqual([
        ["broken", 20, 2],
        ["stuck", 20, 2],
        ["quiet", 10, 2],
      ]);

      // Then "stuck" never answers and "broken" fails; "quiet" has news.
      const second = await withRooms(state, (room) => {
        if (room === "stuck") return new Promise<RoomReadState>(() => {});
        if (room === "broken") return Promise.reject(new Error("room unreachable"));
        return Promise.resolve(counts(30, 5));
      }).list(undefined);
      expect(second?.map((r) => [r.room, r.seq, r.unread])).toEqual([
        ["quiet", 30, 5],
        ["broken", 20, 2],
        ["stuck", 20, 2],
      ]);
    });
  });
});
