/**
 * The history ring against real Durable Object SQLite: its size bound, seq
 * continuity across reloads (what a wake-up or restart does), `gap`, the
 * idempotency lookup, and the storage cost per message, read from the
 * cursors' own rowsWritten counters.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HistoryRing } from "../../src/history";

/** Runs `body` with the SQL storage of a fresh room object. */
function withSql<T>(room: string, body: (sql: SqlStorage) => T): Promise<T> {
  const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
  return runInDurableObject(stub, (_instance, state) => body(state.storage.sql));
}

/** Wraps SQL storage so every statement's rowsWritten can be summed. */
function counting(sql: SqlStorage): { sql: SqlStorage; written: () => number } {
  const cursors: Array<SqlStorageCursor<Record<string, SqlStorageValue>>> = [];
  const wrapped = new Proxy(sql, {
    get(target, prop) {
      if (prop !== "exec") return Reflect.get(target, prop);
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      };
    },
  });
  return { sql: wrapped, written: () => cursors.reduce((n, c) => n + c.rowsWritten, 0) };
}

const message = (text: string, id?: string) => ({ room: "r", name: "Ann", text, ts: 1, ...(id ? { id } : {}) });

describe("history ring", () => {
  it("keeps at most HISTORY_LIMIT rows and numbers messages without gaps", () =>
    withSql("ring-bound", (sql) => {
      const ring = new HistoryRing(sql, 3);
      for (let i = 1; i <= 10; i++) ring.append(message(`m${i}`), "ann");
      expect(ring.latestSeq).toBe(10);
      expect(ring.after().frames.map((f) => JSON.parse(f).seq)).toEqual([8, 9, 10]);
      const rows = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM history").one().n;
      expect(rows).toBe(3);
    }));

  it("writes at most two rows per message once the ring is full", () =>
    withSql("ring-cost", (raw) => {
      const setup = new HistoryRing(raw, 5);
      for (let i = 0; i < 5; i++) setup.append(message(`fill ${i}`), "ann");
      const { sql, written } = counting(raw);
      const ring = new HistoryRing(sql, 5);
      const before = written();
      for (let i = 0; i < 20; i++) ring.append(message(`m${i}`, `id${i}`), "ann");
      const perMessage = (written() - before) / 20;
      expect(perMessage).toBeLessThanOrEqual(2);
      expect(perMessage).toBeGreaterThan(0);
    }));

  it("continues seq and keeps the ring across a reload, as after a wake-up or restart", () =>
    withSql("ring-reload", (sql) => {
      const first = new HistoryRing(sql, 4);
      for (let i = 1; i <= 6; i++) first.append(message(`m${i}`, `id${i}`), "ann");
      const second = new HistoryRing(sql, 4);
      expect(second.latestSeq).toBe(6);
      expect(second.findByClientId("ann", "id6")).toBeDefined();
      expect(second.findByClientId("ann", "id2")).toBeUndefined(); // left the ring
      expect(JSON.parse(second.append(message("m7"), "ann")).seq).toBe(7);
    }));

  it("shrinks to a lowered HISTORY_LIMIT on the next load", () =>
    withSql("ring-shrink", (sql) => {
      const wide = new HistoryRing(sql, 10);
      for (let i = 1; i <= 10; i++) wide.append(message(`m${i}`), "ann");
      const narrow = new HistoryRing(sql, 2);
      expect(narrow.after().frames.map((f) => JSON.parse(f).seq)).toEqual([9, 10]);
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM history").one().n).toBe(2);
    }));

  it("reports a gap only when messages after `since` have left the ring", () =>
    withSql("ring-gap", (sql) => {
      const ring = new HistoryRing(sql, 3);
      for (let i = 1; i <= 5; i++) ring.append(message(`m${i}`), "ann"); // ring: 3, 4, 5
      expect(ring.after(2)).toMatchObject({ gap: false });
      expect(ring.after(1)).toMatchObject({ gap: true });
      expect(ring.after(0).frames).toHaveLength(3);
      expect(ring.after(5)).toEqual({ frames: [], gap: false });
      expect(ring.after(99)).toEqual({ frames: [], gap: false });
    }));

  it("stores the frame it broadcasts, with bot only on API posts", () =>
    withSql("ring-frame", (sql) => {
      const ring = new HistoryRing(sql, 3);
      const human = JSON.parse(ring.append(message("hi", "c1"), "ann"));
      const bot = JSON.parse(ring.append({ room: "r", name: "deploy-bot", text: "done", ts: 2, bot: true }, null));
      expect(human).toEqual({ type: "chat", room: "r", seq: 1, name: "Ann", text: "hi", ts: 1, id: "c1" });
      expect(bot).toEqual({ type: "chat", room: "r", seq: 2, name: "deploy-bot", text: "done", ts: 2, bot: true });
    }));
});
