/**
 * The edge-chat worker as `npm run bench` runs it: the production worker
 * unchanged, except that its ChatRoom also counts the SQLite rows it writes
 * and reads (the billed units) and answers a `metrics()` RPC. Only the
 * benchmark builds this entry, so the deployed room has no metrics surface.
 */
import { ChatRoom as ProductionRoom } from "../src/room/chat-room";

export { ApiGuard, default, MeGate, RoomDirectory, UserRooms } from "../src/worker/index";

type Cursor = SqlStorageCursor<Record<string, SqlStorageValue>>;
type Counts = { rowsWritten: number; rowsRead: number; pending: Cursor | undefined };
const counts = new WeakMap<SqlStorage, Counts>();

/**
 * Counts every statement's rows. A cursor's counts are final once the
 * caller has read it, which the room's synchronous code does before its
 * next statement; so only the latest cursor is kept, and the others are
 * folded into the totals (keeping them all would keep every statement alive
 * and make the bench's room slower than the deployed one).
 */
function counted(ctx: DurableObjectState): DurableObjectState {
  const sql = ctx.storage.sql;
  const total: Counts = { rowsWritten: 0, rowsRead: 0, pending: undefined };
  counts.set(sql, total);
  const exec = sql.exec.bind(sql);
  Object.defineProperty(sql, "exec", {
    configurable: true,
    value: (query: string, ...bindings: unknown[]) => {
      fold(total);
      const cursor = exec(query, ...bindings);
      total.pending = cursor;
      return cursor;
    },
  });
  return ctx;
}

function fold(total: Counts): void {
  if (!total.pending) return;
  total.rowsWritten += total.pending.rowsWritten;
  total.rowsRead += total.pending.rowsRead;
  total.pending = undefined;
}

export class ChatRoom extends ProductionRoom {
  constructor(ctx: DurableObjectState, env: Env) {
    super(counted(ctx), env);
  }

  /** The room's database, in bytes (what `npm run bench:archive` reports for 100,000 messages). */
  storageBytes(): number {
    return this.ctx.storage.sql.databaseSize;
  }

  /** SQLite rows written and read since this object woke, its wake-up load included. */
  metrics(): { rowsWritten: number; rowsRead: number } {
    const total = counts.get(this.ctx.storage.sql);
    if (!total) return { rowsWritten: 0, rowsRead: 0 };
    fold(total);
    return { rowsWritten: total.rowsWritten, rowsRead: total.rowsRead };
  }
}
