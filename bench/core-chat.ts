/**
 * The room core's chat path without the runtime, for bench/core.mjs (in Node,
 * or inside workerd): the JavaScript a chat costs the room, with no
 * sockets, no SQLite and no commits. It is the part of the rooms scenario's
 * gap to the floors that the room's own code decides (docs/benchmarks.md),
 * and it is steady enough to tell a change of several percent, which a
 * whole-runtime run on a shared machine cannot.
 *
 * The rooms are the bench's: ROOMS rooms of MEMBERS members, each member on
 * its own address, one chat a second each, with the bench's chat frame (a
 * text and an `id`). The stores are test/support/memory-room.ts's, except
 * that messages are kept without a copy (the memory store clones each row
 * for the tests' sake, which would dwarf the room's own work). Sends only
 * count.
 */
import { ChatCore } from "../src/room/core";
import type { RoomIO } from "../src/room/io";
import { RoomBudgets } from "../src/room/state/budgets";
import { Sanctions } from "../src/room/state/sanctions";
import { newSocketState } from "../src/room/state/socket-state";
import type { MessageRow } from "../src/room/storage/stores";
import { DEFAULT_LIMITS, type Limits } from "../src/shared/limits";
import {
  MemoryAwayStore,
  MemoryBucketStore,
  MemoryFileStore,
  MemoryMessageStore,
  MemoryPresenceStore,
  MemoryReadStore,
  MemorySanctionStore,
} from "../test/support/memory-room";

const ROOMS = 50;
const MEMBERS = 8;

/** Rate limits out of the way, as the bench's runs set them (bench/systems.mjs): every chat is accepted. */
const LIMITS: Limits = { ...DEFAULT_LIMITS, rateBurst: 1_000_000, ratePerSec: 1_000_000 };

/** Rows kept: the ring (100) and the search index's batch (64) with room to spare; older rows are let go, or the heap would grow with the run. */
const KEPT_ROWS = 1000;

class UncopiedMessages extends MemoryMessageStore {
  override insert(row: MessageRow): void {
    this.rows.set(row.seq, row);
    this.rows.delete(row.seq - KEPT_ROWS);
  }
}

interface Socket {
  readonly name: string;
}

export interface CoreRun {
  /** Handles the next `count` chats, round robin over every member of every room. */
  chats(count: number): void;
  /** Frames sent so far, and error frames among them. */
  readonly sent: number;
  readonly errors: number;
}

export function coreRooms(): CoreRun {
  let clock = 1_000_000;
  let sent = 0;
  let errors = 0;
  const members: Array<{ core: ChatCore<Socket>; socket: Socket; name: string; n: number }> = [];
  for (let r = 0; r < ROOMS; r++) {
    const messages = new UncopiedMessages();
    const io: RoomIO<Socket> = {
      send: (_socket, frame) => {
        sent++;
        if (frame.startsWith('{"type":"error"')) errors++;
      },
      close: () => {},
      save: () => {},
      load: () => newSocketState(LIMITS, "unknown", clock),
      setAlarm: () => {},
      reportCount: () => {},
      forgetFiles: () => {},
      tellUser: () => {},
    };
    const core = new ChatCore<Socket>({
      room: `rooms-${r}`,
      limits: LIMITS,
      io,
      messages,
      budgets: new RoomBudgets(new MemoryBucketStore(), LIMITS),
      away: new MemoryAwayStore(),
      presence: new MemoryPresenceStore(),
      files: new MemoryFileStore(),
      reads: new MemoryReadStore(messages),
      sanctions: new Sanctions(new MemorySanctionStore()),
      identify: () => Promise.reject(new Error("guests only")),
      sameToken: (a, b) => a === b,
      now: () => clock,
    });
    for (let i = 0; i < MEMBERS; i++) {
      const name = `r${r}u${i}`;
      const socket = { name };
      core.opened(socket, `198.51.100.${i + 1}`);
      void core.message(socket, JSON.stringify({ type: "join", name }));
      members.push({ core, socket, name, n: 0 });
    }
  }
  // Joins answer with welcomes and presence: only chats are measured.
  sent = 0;
  let next = 0;
  return {
    chats(count) {
      for (let i = 0; i < count; i++) {
        const member = members[next];
        if (!member) throw new Error("no members");
        next = (next + 1) % members.length;
        // One chat a second from each member: the clock moves by the room's share of a second.
        clock += 1000 / members.length;
        const n = member.n++;
        const text = `${member.name}|${n}|${clock.toFixed(3)}|${"x".repeat(32)}`;
        void member.core.message(member.socket, JSON.stringify({ type: "chat", text, id: `${member.name}-${n}` }));
      }
    },
    get sent() {
      return sent;
    },
    get errors() {
      return errors;
    },
  };
}
