/**
 * The edge-chat worker as `npm run bench` runs it: the production worker
 * unchanged, except that its ChatRoom also counts the SQLite rows it writes
 * and reads (the billed units) and answers a `metrics()` RPC. Only the
 * benchmark builds this entry, so the deployed room has no metrics surface.
 */
import { ChatRoom as ProductionRoom } from "../src/room/chat-room";

export { ApiGuard, default, MeGate, RoomDirectory, UserRooms } from "../src/worker/index";

type Cursor = SqlStorageCursor<Record<string, SqlStorageValue>>;
type Counts = {
  rowsWritten: number;
  rowsRead: number;
  commits: number;
  /** Rows written by each statement (its first words: "INSERT INTO message_log"), for the per-chat breakdown. */
  writtenBy: Map<string, number>;
  pending: { cursor: Cursor; query: string } | undefined;
};
const counts = new WeakMap<SqlStorage, Counts>();

/**
 * Counts every statement's rows. A cursor's counts are final once the
 * caller has read it, which the room's synchronous code does before its
 * next statement; so only the latest cursor is kept, and the others are
 * folded into the totals (keeping them all would keep every statement alive
 * and make the bench's room slower than the deployed one).
 */
function counted(ctx: DurableObjectState, groupCommit: boolean): DurableObjectState {
  const sql = ctx.storage.sql;
  const total: Counts = { rowsWritten: 0, rowsRead: 0, commits: 0, writtenBy: new Map(), pending: undefined };
  counts.set(sql, total);
  // Group commit (src/room/group-commit.ts) waits on one sync() per batch it handles.
  const sync = ctx.storage.sync.bind(ctx.storage);
  Object.defineProperty(ctx.storage, "sync", {
    configurable: true,
    // The experiment without group commit: no commit to wait on, so every frame is handled on arrival.
    value: () => {
      if (!groupCommit) return undefined;
      total.commits++;
      return sync();
    },
  });
  const exec = sql.exec.bind(sql);
  Object.defineProperty(sql, "exec", {
    configurable: true,
    value: (query: string, ...bindings: unknown[]) => {
      fold(total);
      const cursor = exec(query, ...bindings);
      total.pending = { cursor, query };
      return cursor;
    },
  });
  return ctx;
}

function fold(total: Counts): void {
  if (!total.pending) return;
  const { cursor, query } = total.pending;
  total.rowsWritten += cursor.rowsWritten;
  total.rowsRead += cursor.rowsRead;
  if (cursor.rowsWritten > 0) {
    const what = query.replace(/\s+/g, " ").trim().split(" ").slice(0, 4).join(" ");
    total.writtenBy.set(what, (total.writtenBy.get(what) ?? 0) + cursor.rowsWritten);
  }
  total.pending = undefined;
}

export class ChatRoom extends ProductionRoom {
  constructor(ctx: DurableObjectState, env: Env) {
    // BENCH_GROUP_COMMIT=off: the "edge-chat-solo" system of docs/benchmarks.md's group-commit experiment.
    super(counted(ctx, Reflect.get(env, "BENCH_GROUP_COMMIT") !== "off"), env);
  }

  /** The room's database, in bytes (what `npm run bench:archive` reports for 100,000 messages). */
  storageBytes(): number {
    return this.ctx.storage.sql.databaseSize;
  }

  /** SQLite rows written and read since this object woke, its wake-up load included. */
  metrics(): { rowsWritten: number; rowsRead: number; commits: number; writtenBy: Record<string, number> } {
    const total = counts.get(this.ctx.storage.sql);
    if (!total) return { rowsWritten: 0, rowsRead: 0, commits: 0, writtenBy: {} };
    fold(total);
    const { rowsWritten, rowsRead, commits } = total;
    return { rowsWritten, rowsRead, commits, writtenBy: Object.fromEntries(total.writtenBy) };
  }
}
