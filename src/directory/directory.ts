/**
 * The room directory: which rooms have people in them, for GET /api/rooms.
 *
 * One Durable Object for the whole deployment, built with itty-durable (the
 * owner asked for it). itty-durable keeps the object's fields as one stored
 * value and turns method calls on a stub into internal HTTP requests. That
 * shapes the design:
 * - The stored value is capped at 2 MB, so the directory keeps at most
 *   DIRECTORY_LIMIT rooms: when a new room would exceed it, the room with the
 *   fewest users goes, and among those the one listed most recently (the
 *   new one included). So a newcomer only displaces a room by having more
 *   users: a flood of one-user rooms, whatever their names sort like, cannot
 *   push established rooms out.
 * - Arguments travel as JSON in a request header, which must be Latin-1:
 *   room names are ASCII (protocol §1), counts are integers.
 * - The library is untyped (its stubs are `any`). This module is the only
 *   place that touches it; the rest of the code sees the `Directory`
 *   interface, and what comes back over the wire is validated here.
 *
 * Rooms report their own counts (src/directory/reporter.ts); nobody else
 * writes here.
 */
// The package's main entry is a CommonJS file that require()s these two ES
// modules; vitest cannot load that mix, so the modules are imported directly.
import { createDurable } from "itty-durable/itty-durable.js";
import { proxyDurable } from "itty-durable/proxy-durable.js";
import * as v from "valibot";

/** ~75 bytes per entry stored, so 1,000 rooms is ~75 KB of the 2 MB value. */
export const DIRECTORY_LIMIT = 1000;

/** The single directory object's name. */
const DIRECTORY_NAME = "rooms";

export interface RoomCount {
  room: string;
  users: number;
}

/** The typed face of the directory, for the Worker and the rooms. */
export interface Directory {
  /** Records a room's joined-user count; 0 removes the room. */
  report(room: string, users: number): Promise<void>;
  /** Rooms with at least one user, most users first, then by name. */
  list(): Promise<RoomCount[]>;
}

const ListSchema = v.array(v.object({ room: v.string(), users: v.number() }));

export function openDirectory(namespace: Env["DIRECTORY"]): Directory {
  // `parse: true` makes a call resolve to the method's JSON result. The proxy
  // answers every property with a remote call (even `then`), so it is never
  // awaited itself, only its methods.
  const stub = proxyDurable(namespace, { name: "DIRECTORY", parse: true }).get(DIRECTORY_NAME);
  return {
    async report(room, users) {
      await stub.report(room, users);
    },
    async list() {
      return v.parse(ListSchema, await stub.list());
    },
  };
}

/**
 * The directory object. Only its own fields are persisted by itty-durable
 * (as one value under the key "data"); `state` is the runtime's and is
 * skipped. A Map, not a plain object, so a room called "constructor" is
 * just a room.
 */
export class RoomDirectory extends createDurable() {
  rooms = new Map<string, number>();

  async report(room: string, users: number): Promise<void> {
    if (typeof room !== "string" || !Number.isSafeInteger(users) || users < 0) {
      throw new TypeError("report(room: string, users: non-negative integer)");
    }
    if (users === 0) {
      if (!this.rooms.delete(room)) return;
    } else {
      this.rooms.set(room, users);
      if (this.rooms.size > DIRECTORY_LIMIT) this.rooms.delete(smallest(this.rooms));
    }
    await this.persist();
  }

  list(): RoomCount[] {
    return [...this.rooms]
      .map(([room, users]) => ({ room, users }))
      .sort((a, b) => b.users - a.users || compare(a.room, b.room));
  }
}

/**
 * The room to drop when over the limit: fewest users, and among those the
 * newest. A Map iterates in insertion order and a count update keeps a
 * room's place, so the last of the smallest is the one listed most recently.
 */
function smallest(rooms: Map<string, number>): string {
  let last: [string, number] | undefined;
  for (const entry of rooms) {
    if (!last || entry[1] <= last[1]) last = entry;
  }
  if (!last) throw new Error("smallest() of an empty directory");
  return last[0];
}

/** Code-unit order: room names are ASCII, and the order must not depend on a locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
