/**
 * UserRooms: one Durable Object per verified user (`idFromName` of their
 * `sub`), keeping the rooms they joined (protocol §10.3), at most
 * MAX_USER_ROOMS, and where their `/me` sockets are.
 *
 * - Rooms tell it of a join and of each mention (notes.ts). It keeps per
 *   room an activity time, for the order of the list and for which room
 *   goes first when the list is full, and the counts last fetched.
 * - The counts are the room's: a list asks every listed room in parallel
 *   (`readState`), each within ROOM_ANSWER_MS; a room that does not answer
 *   in time is listed with the counts it gave last, so one slow room
 *   cannot stall the list.
 * - A mention is pushed to the gates (me-gate.ts, one per client address)
 *   that hold this user's `/me` sockets. A gate that holds none any more
 *   is forgotten.
 * - A list costs a call on every listed room: LISTS_PER_MINUTE per user,
 *   kept in storage so an eviction does not refill it.
 */
import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import { admits } from "../auth/access";
import { errorName } from "../room/io";
import { readLimits } from "../shared/limits";
import { encode, type UserRoom } from "../shared/server-frames";
import { spendKept } from "./kept-bucket";
import type { RoomReadState, UserNote } from "./notes";

/** How long a list waits for one room's counts. */
export const ROOM_ANSWER_MS = 1000;
/** Lists (HTTP and `/me` together) one user may ask for per minute. */
export const LISTS_PER_MINUTE = 30;
/** Gates (client addresses with a `/me` socket of this user) kept; the oldest goes first. */
export const MAX_GATES = 20;

const RoomRow = v.object({
  room: v.string(),
  active: v.number(),
  seq: v.number(),
  last_read: v.number(),
  unread: v.number(),
  mentions: v.number(),
  ts: v.nullable(v.number()),
});
type RoomRowT = v.InferOutput<typeof RoomRow>;
const GateRow = v.object({ gate: v.string() });
const LISTS = "lists";

export class UserRooms extends DurableObject<Env> {
  readonly #user: string;
  readonly #maxRooms: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const user = ctx.id.name;
    if (user === undefined) throw new Error("UserRooms must be addressed with idFromName(sub)");
    this.#user = user;
    this.#maxRooms = readLimits(env).maxUserRooms;
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS rooms (
        room TEXT PRIMARY KEY,
        active INTEGER NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0,
        last_read INTEGER NOT NULL DEFAULT 0,
        unread INTEGER NOT NULL DEFAULT 0,
        mentions INTEGER NOT NULL DEFAULT 0,
        ts INTEGER
      );
      CREATE INDEX IF NOT EXISTS rooms_active ON rooms (active);
      CREATE TABLE IF NOT EXISTS gates (gate TEXT PRIMARY KEY, at INTEGER NOT NULL);`);
    // One line per construction over a kept list: the eviction test counts them.
    const [kept] = ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM rooms").toArray();
    if (kept && kept.n > 0) console.log(`user object: loaded ${kept.n} rooms`);
  }

  /** A room's note (§10.3): a join, or a mention to push to the user's `/me` sockets. */
  async note(note: UserNote): Promise<void> {
    this.#touch(note.room, note.ts);
    if (note.kind !== "mention") return;
    const { kind: _kind, ...fields } = note;
    const frame = encode({ type: "mention", ...fields });
    const gates = this.#rows("SELECT gate FROM gates", GateRow);
    await Promise.all(
      gates.map(async ({ gate }) => {
        try {
          const held = await this.env.ME.getByName(gate).push(this.#user, note.room, frame);
          if (held === 0) this.ctx.storage.sql.exec("DELETE FROM gates WHERE gate = ?", gate);
        } catch (err) {
          console.warn(`user object: pushing a mention to a gate failed:`, errorName(err));
        }
      }),
    );
  }

  /** A gate now holds a `/me` socket of this user. */
  live(gate: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT OR REPLACE INTO gates (gate, at) VALUES (?, ?)", gate, Date.now());
    sql.exec("DELETE FROM gates WHERE gate NOT IN (SELECT gate FROM gates ORDER BY at DESC LIMIT ?)", MAX_GATES);
  }

  /**
   * §10.3: the rooms a token with this `rooms` claim admits, most recent
   * activity first, with counts as of now; null when the user is out of
   * lists for the minute.
   */
  async list(claim: string[] | undefined): Promise<UserRoom[] | null> {
    if (!spendKept(this.ctx.storage.kv, LISTS, LISTS_PER_MINUTE)) return null;
    const rows = this.#rows("SELECT room, active, seq, last_read, unread, mentions, ts FROM rooms", RoomRow).filter(
      (row) => admits(claim, row.room),
    );
    const fresh = await Promise.all(rows.map((row) => this.#ask(row.room)));
    const listed = rows.map((row, i) => {
      const state = fresh[i];
      if (!state) return { row, activity: Math.max(row.active, row.ts ?? 0) };
      const activity = Math.max(state.active, state.ts ?? 0);
      const next: RoomRowT = {
        room: row.room,
        active: Math.max(row.active, activity),
        seq: state.seq,
        last_read: state.lastRead,
        unread: state.unread,
        mentions: state.mentions,
        ts: state.ts ?? null,
      };
      this.#save(next);
      return { row: next, activity };
    });
    listed.sort((a, b) => b.activity - a.activity || a.row.room.localeCompare(b.row.room));
    return listed.map(({ row }) => ({
      room: row.room,
      seq: row.seq,
      lastRead: row.last_read,
      unread: row.unread,
      mentions: row.mentions,
      ts: row.ts,
    }));
  }

  /** One room's counts for this user, or undefined when it does not answer within ROOM_ANSWER_MS. */
  async #ask(room: string): Promise<RoomReadState | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A timer inside one request, not state: it never has to outlive an eviction.
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ROOM_ANSWER_MS);
    });
    try {
      const answer = this.env.ROOMS.getByName(room)
        .readState(this.#user)
        // Through RPC's types a null arrives typed as possibly undefined.
        .then((state): RoomReadState => ({ ...state, ts: state.ts ?? null }))
        .catch((err: unknown) => {
          console.warn(`user object: room ${room} gave no counts:`, errorName(err));
          return undefined;
        });
      return await Promise.race([answer, late]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** The room is active now: added if new, and the least recently active room goes when the list is full. */
  #touch(room: string, ts: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec(
      `INSERT INTO rooms (room, active) VALUES (?, ?)
       ON CONFLICT(room) DO UPDATE SET active = max(active, excluded.active)`,
      room,
      ts,
    );
    sql.exec(
      "DELETE FROM rooms WHERE room NOT IN (SELECT room FROM rooms ORDER BY active DESC, room LIMIT ?)",
      this.#maxRooms,
    );
  }

  #save(row: RoomRowT): void {
    this.ctx.storage.sql.exec(
      "UPDATE rooms SET active = ?, seq = ?, last_read = ?, unread = ?, mentions = ?, ts = ? WHERE room = ?",
      row.active,
      row.seq,
      row.last_read,
      row.unread,
      row.mentions,
      row.ts,
      row.room,
    );
  }

  #rows<T extends v.GenericSchema>(query: string, schema: T, ...bindings: SqlStorageValue[]): v.InferOutput<T>[] {
    return this.ctx.storage.sql
      .exec(query, ...bindings)
      .toArray()
      .flatMap((r) => {
        const row = v.safeParse(schema, r);
        return row.success ? [row.output] : [];
      });
  }
}
