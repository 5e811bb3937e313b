/**
 * The presence journal (src/room/state/presence.ts) in the room's SQLite:
 * the roster changes no batch has carried yet, and the last batch. Both
 * stay tiny: a batch deletes the changes it carried, at most one batch
 * per PRESENCE_BATCH_MS. They are here, not in memory, because a batch may
 * be pending when the object is evicted: the alarm that wakes it must find
 * what to send.
 */
import * as v from "valibot";
import { LeftEntrySchema } from "../../shared/server-frames";
import { tableExists } from "./sql-stores";
import type { JournalEntry, PresenceStore, PresenceTick } from "./stores";

export class SqlPresenceStore implements PresenceStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): { entries: JournalEntry[]; tick: PresenceTick | undefined } {
    if (!this.#exists()) return { entries: [], tick: undefined };
    const entries: JournalEntry[] = [];
    for (const r of this.#sql.exec<{ row: string }>("SELECT row FROM presence_journal ORDER BY n").toArray()) {
      const row: unknown = JSON.parse(r.row);
      if (isEntry(row)) entries.push(row);
    }
    const [tick] = this.#sql.exec<{ row: string }>("SELECT row FROM presence_tick").toArray();
    const parsed: unknown = tick === undefined ? undefined : JSON.parse(tick.row);
    return { entries, tick: v.is(TickSchema, parsed) ? parsed : undefined };
  }

  append(entry: JournalEntry): void {
    this.#create();
    this.#sql.exec("INSERT OR REPLACE INTO presence_journal (n, row) VALUES (?, ?)", entry.n, JSON.stringify(entry));
  }

  ticked(tick: PresenceTick): void {
    this.#create();
    this.#sql.exec("INSERT OR REPLACE INTO presence_tick (id, row) VALUES (0, ?)", JSON.stringify(tick));
    this.#sql.exec("DELETE FROM presence_journal WHERE n <= ?", tick.through);
  }

  #create(): void {
    if (this.#exists()) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS presence_journal (n INTEGER PRIMARY KEY, row TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS presence_tick (id INTEGER PRIMARY KEY, row TEXT NOT NULL);`);
    this.#created = true;
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "presence_tick");
    return this.#created;
  }
}

const EntrySchema = v.looseObject({
  n: v.number(),
  ts: v.number(),
  kind: v.picklist(["joined", "left", "read"]),
  who: LeftEntrySchema,
  reason: v.optional(v.picklist(["kicked", "banned"])),
  seq: v.optional(v.number()),
});

const TickSchema = v.looseObject({
  n: v.number(),
  through: v.number(),
  at: v.number(),
  count: v.number(),
  large: v.boolean(),
});

/** A journal row: a roster change, or a read change (§10.1) with its user and seq. */
function isEntry(row: unknown): row is JournalEntry {
  if (!v.is(EntrySchema, row)) return false;
  return row.kind !== "read" || (row.who.user !== undefined && row.seq !== undefined);
}
