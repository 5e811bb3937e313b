/**
 * The room's stores on the Durable Object's SQLite: the only code that
 * speaks SQL. No table is created by a read: `CREATE TABLE IF NOT EXISTS`
 * on a read path gave every room name anyone ever looked up a database of
 * its own. Each table appears with its first write. The messages'
 * tables are in sql-messages.ts. Rows are read back through valibot schemas: a
 * row this code does not recognise is skipped, never cast.
 */
import * as v from "valibot";
import { ROLES } from "../../shared/protocol";
import { type Bucket, BucketSchema } from "../../shared/rate-limit";
import { type Sanction, type SanctionKind, type SanctionStore, sanctionId } from "../state/sanctions";
import { MemberSchema } from "../state/socket-state";
import type { AwayRow, AwayStore, BucketStore } from "./stores";

export function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}

const BucketRowSchema = v.object({ key: v.string(), tokens: v.number(), at: v.number() });

/** Budgets that must outlive an eviction (src/room/state/budgets.ts), a row each. */
export class SqlBucketStore implements BucketStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  exists(): boolean {
    this.#created ??= tableExists(this.#sql, "buckets");
    return this.#created;
  }

  load(): Iterable<[string, Bucket]> {
    if (!this.exists()) return [];
    return this.#sql
      .exec("SELECT key, tokens, at FROM buckets")
      .toArray()
      .flatMap((r): Array<[string, Bucket]> => {
        const row = v.safeParse(BucketRowSchema, r);
        return row.success ? [[row.output.key, { tokens: row.output.tokens, at: row.output.at }]] : [];
      });
  }

  put(key: string, bucket: Bucket, fullAt: number): void {
    if (!this.exists()) {
      this.#sql.exec(
        `CREATE TABLE IF NOT EXISTS buckets (
          key TEXT PRIMARY KEY,
          tokens REAL NOT NULL,
          at INTEGER NOT NULL,
          full_at INTEGER NOT NULL
        )`,
      );
      this.#created = true;
    }
    this.#sql.exec(
      `INSERT INTO buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at, full_at = excluded.full_at`,
      key,
      bucket.tokens,
      bucket.at,
      fullAt,
    );
  }

  prune(now: number): void {
    if (this.exists()) this.#sql.exec("DELETE FROM buckets WHERE full_at <= ?", now);
  }
}

/**
 * Members away within their presence grace (§5.4), a row each, written when
 * a member's last socket drops and deleted when they return or their grace
 * ends: rare events, so the row is plain JSON.
 */
export class SqlAwayStore implements AwayStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): AwayRow[] {
    if (!this.#exists()) return [];
    const rows: AwayRow[] = [];
    for (const r of this.#sql.exec<{ row: string }>("SELECT row FROM away").toArray()) {
      const row: unknown = JSON.parse(r.row);
      if (isAwayRow(row)) rows.push(row);
    }
    return rows;
  }

  put(row: AwayRow): void {
    if (!this.#exists()) {
      this.#sql.exec("CREATE TABLE IF NOT EXISTS away (key TEXT PRIMARY KEY, row TEXT NOT NULL)");
      this.#created = true;
    }
    this.#sql.exec(
      "INSERT INTO away (key, row) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET row = excluded.row",
      row.member.key,
      JSON.stringify(row),
    );
  }

  delete(key: string): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM away WHERE key = ?", key);
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "away");
    return this.#created;
  }
}

const AwayRowSchema = v.looseObject({
  member: MemberSchema,
  bucket: BucketSchema,
  address: v.string(),
  until: v.number(),
});

function isAwayRow(value: unknown): value is AwayRow {
  return v.is(AwayRowSchema, value);
}

/**
 * Bans, mutes and slow mode (src/room/state/sanctions.ts): a row each, written
 * only by a moderator's action or an expiry. The whole table is read once
 * per wake-up, by the first frame that needs it.
 */
export class SqlSanctionStore implements SanctionStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): { sanctions: Sanction[]; slowmode: number } {
    const book: { sanctions: Sanction[]; slowmode: number } = { sanctions: [], slowmode: 0 };
    if (!this.#exists()) return book;
    for (const r of this.#sql.exec<{ id: string; row: string }>("SELECT id, row FROM moderation").toArray()) {
      const value: unknown = JSON.parse(r.row);
      if (r.id === SLOWMODE_ID) book.slowmode = typeof value === "number" ? value : 0;
      else if (isSanction(value)) book.sanctions.push(value);
    }
    return book;
  }

  put(sanction: Sanction): void {
    this.#write(`${sanction.kind}:${sanctionId(sanction)}`, JSON.stringify(sanction));
  }

  delete(kind: SanctionKind, id: string): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM moderation WHERE id = ?", `${kind}:${id}`);
  }

  setSlowmode(seconds: number): void {
    this.#write(SLOWMODE_ID, JSON.stringify(seconds));
  }

  #write(id: string, row: string): void {
    if (!this.#exists()) {
      this.#sql.exec("CREATE TABLE IF NOT EXISTS moderation (id TEXT PRIMARY KEY, row TEXT NOT NULL)");
      this.#created = true;
    }
    this.#sql.exec(
      "INSERT INTO moderation (id, row) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET row = excluded.row",
      id,
      row,
    );
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "moderation");
    return this.#created;
  }
}

const SLOWMODE_ID = "settings:slowmode";

const SanctionSchema = v.looseObject({
  kind: v.picklist(["ban", "mute"]),
  name: v.string(),
  key: v.string(),
  user: v.optional(v.string()),
  address: v.optional(v.string()),
  role: v.picklist(ROLES),
  until: v.nullable(v.number()),
  by: v.string(),
  reason: v.optional(v.string()),
});

function isSanction(value: unknown): value is Sanction {
  return v.is(SanctionSchema, value);
}
