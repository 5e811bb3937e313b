/**
 * The edge-chat worker as `npm run bench` runs it: the production worker
 * unchanged, except that its ChatRoom also counts the SQLite rows it writes
 * and reads (the billed units) and answers a `metrics()` RPC. Only the
 * benchmark builds this entry, so the deployed room has no metrics surface.
 */
import { ChatRoom as ProductionRoom } from "../src/room/chat-room";

export { ApiGuard, default, RoomDirectory } from "../src/worker/index";

type Cursor = SqlStorageCursor<Record<string, SqlStorageValue>>;
const cursors = new WeakMap<SqlStorage, Cursor[]>();

/** Records every statement's cursor; its row counts are read when asked. */
function counted(ctx: DurableObjectState): DurableObjectState {
  const sql = ctx.storage.sql;
  const seen: Cursor[] = [];
  cursors.set(sql, seen);
  const exec = sql.exec.bind(sql);
  Object.defineProperty(sql, "exec", {
    configurable: true,
    value: (query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...bindings);
      seen.push(cursor);
      return cursor;
    },
  });
  return ctx;
}

export class ChatRoom extends ProductionRoom {
  constructor(ctx: DurableObjectState, env: Env) {
    super(counted(ctx), env);
  }

  /** SQLite rows written and read since this object woke, its wake-up load included. */
  metrics(): { rowsWritten: number; rowsRead: number } {
    const seen = cursors.get(this.ctx.storage.sql) ?? [];
    return {
      rowsWritten: seen.reduce((n, c) => n + c.rowsWritten, 0),
      rowsRead: seen.reduce((n, c) => n + c.rowsRead, 0),
    };
  }
}
