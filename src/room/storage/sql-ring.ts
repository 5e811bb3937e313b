/**
 * The history ring on the Durable Object's SQLite (state/history.ts
 * explains the layout): a `messages` table keyed by `v`, one row per
 * message in its latest state, written one row per event.
 *
 * Rooms written by version 1 kept a slot-keyed `ring` table, and before
 * that a seq-keyed `history` table; their rows come back as legacy and the
 * ring writes them again in this layout, once. Both migrations stay: a room
 * nobody has visited since still holds its messages in them, and a deploy
 * must not lose those (test/workers/history.test.ts migrates each).
 */
import * as v from "valibot";
import { tableExists } from "./sql-stores";
import type { MessageRow, Reactors, RingStore } from "./stores";

const LegacyRow = v.object({
  seq: v.number(),
  frame: v.string(),
  author: v.nullable(v.string()),
  client_id: v.nullable(v.string()),
});
const MessageRowSchema = v.object({
  ...LegacyRow.entries,
  v: v.number(),
  reactors: v.nullable(v.string()),
  evicted: v.number(),
});

/** The rows of a query that match the schema; any other row is skipped, never cast. */
function rowsOf<T extends v.GenericSchema>(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, schema: T) {
  return cursor.toArray().flatMap((r) => {
    const row = v.safeParse(schema, r);
    return row.success ? [row.output] : [];
  });
}

export class SqlRingStore implements RingStore {
  readonly #sql: SqlStorage;
  #created: boolean;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.#created = tableExists(sql, "messages");
  }

  load(): { rows: MessageRow[]; legacy: boolean } {
    const legacy: MessageRow[] = [];
    for (const table of ["history", "ring"]) {
      if (!tableExists(this.#sql, table)) continue;
      const old = rowsOf(this.#sql.exec(`SELECT seq, frame, author, client_id FROM ${table} ORDER BY seq`), LegacyRow);
      for (const r of old) {
        legacy.push({
          seq: r.seq,
          v: r.seq,
          frame: r.frame,
          author: r.author,
          clientId: r.client_id,
          reactors: null,
          evicted: 0,
        });
      }
    }
    if (legacy.length > 0 || this.#legacyTables()) {
      legacy.sort((a, b) => a.seq - b.seq);
      return { rows: legacy, legacy: true };
    }
    if (!this.#created) return { rows: [], legacy: false };
    const rows = rowsOf(
      this.#sql.exec("SELECT v, seq, frame, author, client_id, reactors, evicted FROM messages ORDER BY seq"),
      MessageRowSchema,
    ).map(
      (r): MessageRow => ({
        seq: r.seq,
        v: r.v,
        frame: r.frame,
        author: r.author,
        clientId: r.client_id,
        reactors: r.reactors === null ? null : parseReactors(r.reactors),
        evicted: r.evicted,
      }),
    );
    return { rows, legacy: false };
  }

  write(row: MessageRow, replacing?: number): void {
    if (!this.#created) this.#create();
    const values = [
      row.v,
      row.seq,
      row.frame,
      row.author,
      row.clientId,
      row.reactors === null ? null : JSON.stringify(Object.fromEntries(row.reactors)),
      row.evicted,
    ];
    if (replacing === undefined) {
      this.#sql.exec(
        "INSERT INTO messages (v, seq, frame, author, client_id, reactors, evicted) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ...values,
      );
    } else {
      this.#sql.exec(
        `UPDATE messages SET v = ?, seq = ?, frame = ?, author = ?, client_id = ?, reactors = ?, evicted = ?
         WHERE v = ?`,
        ...values,
        replacing,
      );
    }
  }

  replaceAll(rows: readonly MessageRow[]): void {
    if (this.#created) this.#sql.exec("DELETE FROM messages");
    for (const row of rows) this.write(row);
    for (const table of ["history", "ring"]) this.#sql.exec(`DROP TABLE IF EXISTS ${table}`);
  }

  #legacyTables(): boolean {
    return tableExists(this.#sql, "ring") || tableExists(this.#sql, "history");
  }

  #create(): void {
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS messages (
        v INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        frame TEXT NOT NULL,
        author TEXT,
        client_id TEXT,
        reactors TEXT,
        evicted INTEGER NOT NULL
      )`,
    );
    this.#created = true;
  }
}

/** Who reacted, as stored: per emoji, [member id, name] pairs. */
const ReactorsJson = v.record(v.string(), v.array(v.tuple([v.string(), v.string()])));

function parseReactors(text: string): Reactors | null {
  const parsed = v.safeParse(ReactorsJson, JSON.parse(text));
  // Object.entries keeps `__proto__` an ordinary own key, as JSON.parse wrote it.
  return parsed.success ? new Map(Object.entries(parsed.output)) : null;
}
