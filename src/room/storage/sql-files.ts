/**
 * The room's uploaded files (protocol §11) in its SQLite: one row per file,
 * the bytes themselves in R2. A row says who uploaded it (only they may
 * attach it) and which message carries it, which is what serving and
 * deleting a file ask.
 */
import * as v from "valibot";
import { tableExists } from "./sql-stores";
import type { FileRow, FileStore } from "./stores";

export class SqlFileStore implements FileStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  insert(row: FileRow): void {
    this.#create();
    this.#sql.exec(
      "INSERT INTO files (id, owner, name, type, size, width, height, uploaded, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
      row.id,
      row.owner,
      row.name,
      row.type,
      row.size,
      row.width ?? null,
      row.height ?? null,
      row.uploaded,
    );
  }

  get(id: string): FileRow | undefined {
    if (!this.#exists()) return undefined;
    return this.#rows("SELECT * FROM files WHERE id = ?", id)[0];
  }

  attach(ids: readonly string[], seq: number): void {
    for (const id of ids) this.#sql.exec("UPDATE files SET seq = ? WHERE id = ?", seq, id);
  }

  ofMessage(seq: number): FileRow[] {
    if (!this.#exists()) return [];
    return this.#rows("SELECT * FROM files WHERE seq = ?", seq);
  }

  delete(ids: readonly string[]): void {
    for (const id of ids) this.#sql.exec("DELETE FROM files WHERE id = ?", id);
  }

  unattachedBefore(cutoff: number, max: number): string[] {
    if (!this.#exists()) return [];
    return this.#ids("SELECT id FROM files WHERE seq IS NULL AND uploaded <= ? ORDER BY uploaded LIMIT ?", cutoff, max);
  }

  attachedBelow(seq: number, max: number): string[] {
    if (!this.#exists()) return [];
    return this.#ids("SELECT id FROM files WHERE seq < ? ORDER BY seq LIMIT ?", seq, max);
  }

  oldestUnattached(): number | undefined {
    if (!this.#exists()) return undefined;
    return this.#number("SELECT min(uploaded) AS n FROM files WHERE seq IS NULL");
  }

  lowestAttached(): number | undefined {
    if (!this.#exists()) return undefined;
    return this.#number("SELECT min(seq) AS n FROM files");
  }

  #rows(query: string, ...bindings: (string | number)[]): FileRow[] {
    const rows: FileRow[] = [];
    for (const raw of this.#sql.exec(query, ...bindings).toArray()) {
      const r = v.parse(RowSchema, raw);
      const row: FileRow = { id: r.id, owner: r.owner, name: r.name, type: r.type, size: r.size, uploaded: r.uploaded };
      if (r.width !== null) row.width = r.width;
      if (r.height !== null) row.height = r.height;
      if (r.seq !== null) row.seq = r.seq;
      rows.push(row);
    }
    return rows;
  }

  #ids(query: string, ...bindings: number[]): string[] {
    return this.#sql
      .exec<{ id: string }>(query, ...bindings)
      .toArray()
      .map((r) => r.id);
  }

  #number(query: string): number | undefined {
    const [row] = this.#sql.exec(query).toArray();
    const n = row?.n;
    return typeof n === "number" ? n : undefined;
  }

  #create(): void {
    if (this.#exists()) return;
    // The partial index serves the hourly sweep of unattached files; the
    // seq index serves a message's files (delete) and retention's sweep.
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS files (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
        size INTEGER NOT NULL, width INTEGER, height INTEGER, uploaded INTEGER NOT NULL, seq INTEGER);
      CREATE INDEX IF NOT EXISTS files_seq ON files (seq) WHERE seq IS NOT NULL;
      CREATE INDEX IF NOT EXISTS files_unattached ON files (uploaded) WHERE seq IS NULL;`);
    this.#created = true;
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "files");
    return this.#created;
  }
}

const Int = v.pipe(v.number(), v.safeInteger());
const RowSchema = v.object({
  id: v.string(),
  owner: v.string(),
  name: v.string(),
  type: v.string(),
  size: Int,
  width: v.nullable(Int),
  height: v.nullable(Int),
  uploaded: Int,
  seq: v.nullable(Int),
});
