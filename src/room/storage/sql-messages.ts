/**
 * The room's messages on the Durable Object's SQLite (state/history.ts
 * explains the layout): `message_log`, one row per retained message keyed
 * by seq, in its latest state; `message_words`, an FTS5 index of their
 * words (§8.3); `history_counters`, the two numbers the rows may stop
 * showing once messages are deleted (the latest seq, and the newest seq
 * gone).
 *
 * The index is contentless (`content=''`): it keeps the words' postings and
 * not a second copy of every text, and `contentless_delete=1` lets an edit
 * or a delete drop a message's entry by rowid (= seq). Messages join it in
 * batches (`index`), not one by one: FTS5 writes a new segment for every
 * transaction that touches it, and a segment per chat cost the throughput
 * scenario a fifth of its messages (docs/benchmarks.md). Its input is the
 * output of src/shared/search.ts (folded words joined by spaces) and every
 * query is built from those words, each quoted: no character a client sends
 * ever reaches FTS5 as syntax.
 *
 * Rooms written by earlier versions hold their messages in older tables:
 * version 2's `messages` (the ring, keyed by `v`), version 1's slot-keyed
 * `ring`, and the seq-keyed `history` before it. `load` returns their rows
 * as legacy and the ring writes them again here, once, with `migrate`; the
 * readers stay for rooms nobody has visited since (test/workers/history.test.ts).
 */
import * as v from "valibot";
import { tableExists } from "./sql-stores";
import type { LoadedHistory, MessageRow, MessageStore, PageQuery, Reactors } from "./stores";

const LegacyRow = v.object({
  seq: v.number(),
  frame: v.string(),
  author: v.nullable(v.string()),
  client_id: v.nullable(v.string()),
});
const V2Row = v.object({ ...LegacyRow.entries, v: v.number(), reactors: v.nullable(v.string()), evicted: v.number() });
const LogRow = v.object({ ...V2Row.entries, ts: v.number() });
const Counter = v.object({ name: v.string(), value: v.number() });

const COLUMNS = "seq, v, ts, frame, author, client_id, reactors, evicted";
/** The same columns of `message_log m`, for the search's join. */
const LOG_COLUMNS = COLUMNS.split(", ")
  .map((c) => `m.${c}`)
  .join(", ");
const LEGACY_TABLES = ["history", "ring", "messages"] as const;
/** Built once: a template in `insert` would build (and the runtime flatten) the same string for every chat. */
const INSERT_MESSAGE = `INSERT INTO message_log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

/** The rows of a query that match the schema; any other row is skipped, never cast. */
function rowsOf<T extends v.GenericSchema>(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, schema: T) {
  return cursor.toArray().flatMap((r) => {
    const row = v.safeParse(schema, r);
    return row.success ? [row.output] : [];
  });
}

export class SqlMessageStore implements MessageStore {
  readonly #sql: SqlStorage;
  /** Whether the tables exist; asked on first use, as most wake-ups never touch messages. */
  #exists: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  get #created(): boolean {
    this.#exists ??= tableExists(this.#sql, "message_log");
    return this.#exists;
  }

  load(limit: number): LoadedHistory {
    if (!this.#created) {
      const legacy = this.#legacy();
      return { rows: [], latest: 0, gone: 0, older: 0, indexed: 0, ...(legacy ? { legacy } : {}) };
    }
    const rows = this.#rows(`SELECT ${COLUMNS} FROM message_log ORDER BY seq DESC LIMIT ?`, limit).reverse();
    const oldest = rows[0]?.seq;
    const older =
      oldest === undefined
        ? undefined
        : this.#sql.exec("SELECT seq FROM message_log WHERE seq < ? ORDER BY seq DESC LIMIT 1", oldest).toArray()[0];
    const counters = new Map(
      rowsOf(this.#sql.exec("SELECT name, value FROM history_counters"), Counter).map((c) => [c.name, c.value]),
    );
    return {
      rows,
      latest: counters.get("latest") ?? 0,
      gone: counters.get("gone") ?? 0,
      older: typeof older?.seq === "number" ? older.seq : 0,
      indexed: counters.get("indexed") ?? 0,
    };
  }

  insert(row: MessageRow): void {
    this.#create();
    this.#sql.exec(INSERT_MESSAGE, ...values(row));
  }

  index(after: number, max: number, words: (row: MessageRow) => string | null): number {
    if (!this.#created) return after;
    const rows = this.#rows(`SELECT ${COLUMNS} FROM message_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, max);
    const last = rows.at(-1);
    if (!last) return after;
    for (const row of rows) {
      const text = words(row);
      if (text) this.#sql.exec("INSERT INTO message_words (rowid, words) VALUES (?, ?)", row.seq, text);
    }
    this.#indexedUpTo(last.seq);
    return last.seq;
  }

  indexWords(batch: ReadonlyArray<readonly [number, string | null]>): void {
    const last = batch.at(-1);
    if (!last || !this.#created) return;
    for (const [seq, words] of batch) {
      if (words) this.#sql.exec("INSERT INTO message_words (rowid, words) VALUES (?, ?)", seq, words);
    }
    this.#indexedUpTo(last[0]);
  }

  #indexedUpTo(seq: number): void {
    this.#sql.exec("INSERT OR REPLACE INTO history_counters (name, value) VALUES ('indexed', ?)", seq);
  }

  update(row: MessageRow, words: string | null | undefined): void {
    this.#sql.exec(
      "UPDATE message_log SET v = ?, frame = ?, reactors = ?, evicted = ? WHERE seq = ?",
      row.v,
      row.frame,
      reactorsJson(row.reactors),
      row.evicted,
      row.seq,
    );
    if (words === undefined) return;
    this.#sql.exec("DELETE FROM message_words WHERE rowid = ?", row.seq);
    if (words) this.#sql.exec("INSERT INTO message_words (rowid, words) VALUES (?, ?)", row.seq, words);
  }

  read(seq: number): MessageRow | undefined {
    if (!this.#created) return undefined;
    return this.#rows(`SELECT ${COLUMNS} FROM message_log WHERE seq = ?`, seq)[0];
  }

  page({ before, after, limit, notBefore }: PageQuery): MessageRow[] {
    if (!this.#created) return [];
    if (after !== undefined) {
      return this.#rows(
        `SELECT ${COLUMNS} FROM message_log WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?`,
        after,
        notBefore,
        limit + 1,
      );
    }
    return this.#rows(
      `SELECT ${COLUMNS} FROM message_log WHERE seq < ? AND ts >= ? ORDER BY seq DESC LIMIT ?`,
      before ?? Number.MAX_SAFE_INTEGER,
      notBefore,
      limit + 1,
    );
  }

  search(words: readonly string[], before: number, limit: number, notBefore: number): MessageRow[] {
    if (!this.#created) return [];
    // Each word is letters and digits only (src/shared/search.ts), and is
    // escaped all the same; quoted and with `*` it is a prefix term, and the
    // terms side by side are AND.
    const match = words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(" ");
    return this.#rows(
      `SELECT ${LOG_COLUMNS}
       FROM message_words JOIN message_log m ON m.seq = message_words.rowid
       WHERE message_words MATCH ? AND message_words.rowid < ? AND m.ts >= ?
       ORDER BY message_words.rowid DESC LIMIT ?`,
      match,
      before,
      notBefore,
      limit + 1,
    );
  }

  expire(cutoff: number, max: number): number[] {
    if (!this.#created) return [];
    // By seq, not by a scan of `ts` (which has no index): messages are
    // stored in time order, so the oldest are the first rows.
    const oldest = this.#sql.exec("SELECT seq, ts FROM message_log ORDER BY seq LIMIT ?", max).toArray();
    const seqs = oldest.flatMap((r) =>
      typeof r.seq === "number" && typeof r.ts === "number" && r.ts < cutoff ? [r.seq] : [],
    );
    for (const seq of seqs) this.#delete(seq);
    return seqs;
  }

  dropBefore(seq: number): void {
    if (!this.#created) return;
    const below = this.#sql.exec("SELECT seq FROM message_log WHERE seq < ?", seq).toArray();
    for (const r of below) if (typeof r.seq === "number") this.#delete(r.seq);
  }

  oldestSeq(): number | undefined {
    if (!this.#created) return undefined;
    const first = this.#sql.exec("SELECT seq FROM message_log ORDER BY seq LIMIT 1").toArray()[0];
    return typeof first?.seq === "number" ? first.seq : undefined;
  }

  oldestTs(): number | undefined {
    if (!this.#created) return undefined;
    const first = this.#sql.exec("SELECT ts FROM message_log ORDER BY seq LIMIT 1").toArray()[0];
    return typeof first?.ts === "number" ? first.ts : undefined;
  }

  mark(latest: number, gone: number): void {
    this.#create();
    this.#sql.exec(
      "INSERT OR REPLACE INTO history_counters (name, value) VALUES ('latest', ?), ('gone', ?)",
      latest,
      gone,
    );
  }

  migrate(rows: readonly MessageRow[]): void {
    this.#create();
    for (const row of rows) this.insert(row);
    for (const table of LEGACY_TABLES) this.#sql.exec(`DROP TABLE IF EXISTS ${table}`);
  }

  #delete(seq: number): void {
    this.#sql.exec("DELETE FROM message_log WHERE seq = ?", seq);
    this.#sql.exec("DELETE FROM message_words WHERE rowid = ?", seq);
  }

  #rows(query: string, ...bindings: SqlStorageValue[]): MessageRow[] {
    return rowsOf(this.#sql.exec(query, ...bindings), LogRow).map(messageRow);
  }

  /** Every row of the older layouts, by seq; undefined when there are none. Their `ts` is read from their frames. */
  #legacy(): MessageRow[] | undefined {
    const found = LEGACY_TABLES.filter((t) => tableExists(this.#sql, t));
    if (found.length === 0) return undefined;
    const rows: MessageRow[] = [];
    for (const table of found) {
      const v2 = table === "messages";
      const query = v2
        ? "SELECT seq, v, frame, author, client_id, reactors, evicted, json_extract(frame, '$.ts') AS ts FROM messages"
        : `SELECT seq, seq AS v, frame, author, client_id, NULL AS reactors, 0 AS evicted, json_extract(frame, '$.ts') AS ts FROM ${table}`;
      rows.push(...rowsOf(this.#sql.exec(query), LogRow).map(messageRow));
    }
    // One row per seq (a room caught between two layouts may hold one twice).
    return [...new Map(rows.map((r) => [r.seq, r])).values()].sort((a, b) => a.seq - b.seq);
  }

  #create(): void {
    if (this.#created) return;
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS message_log (
        seq INTEGER PRIMARY KEY,
        v INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        frame TEXT NOT NULL,
        author TEXT,
        client_id TEXT,
        reactors TEXT,
        evicted INTEGER NOT NULL
      )`,
    );
    this.#sql.exec(
      `CREATE VIRTUAL TABLE IF NOT EXISTS message_words
       USING fts5(words, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
    );
    this.#sql.exec("CREATE TABLE IF NOT EXISTS history_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    this.#exists = true;
  }
}

function messageRow(r: v.InferOutput<typeof LogRow>): MessageRow {
  return {
    seq: r.seq,
    v: r.v,
    ts: r.ts,
    frame: r.frame,
    author: r.author,
    clientId: r.client_id,
    reactors: r.reactors === null ? null : parseReactors(r.reactors),
    evicted: r.evicted,
  };
}

function values(row: MessageRow): SqlStorageValue[] {
  return [row.seq, row.v, row.ts, row.frame, row.author, row.clientId, reactorsJson(row.reactors), row.evicted];
}

function reactorsJson(reactors: Reactors | null): string | null {
  return reactors === null ? null : JSON.stringify(Object.fromEntries(reactors));
}

/** Who reacted, as stored: per emoji, [member id, name] pairs. */
const ReactorsJson = v.record(v.string(), v.array(v.tuple([v.string(), v.string()])));

function parseReactors(text: string): Reactors | null {
  const parsed = v.safeParse(ReactorsJson, JSON.parse(text));
  // Object.entries keeps `__proto__` an ordinary own key, as JSON.parse wrote it.
  return parsed.success ? new Map(Object.entries(parsed.output)) : null;
}
