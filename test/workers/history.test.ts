/**
 * The history ring against real Durable Object SQLite: its size bound, seq
 * continuity across reloads (what a wake-up or restart does), `gap`, the
 * idempotency lookup, and the storage cost per message, read from the
 * cursors' own rowsWritten counters.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HistoryRing } from "../../src/room/history";
import { SqlRingStore } from "../../src/room/sql-stores";

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
      const ring = new HistoryRing(new SqlRingStore(sql), 3);
      for (let i = 1; i <= 10; i++) ring.append(message(`m${i}`), "ann");
      expect(ring.latestSeq).toBe(10);
      expect(ring.after().frames.map((f) => JSON.parse(f).seq)).toEqual([8, 9, 10]);
      const rows = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM ring").one().n;
      expect(rows).toBe(3);
    }));

  it("writes one row per message once the ring is full: the upsert overwrites the oldest", () =>
    withSql("ring-cost", (raw) => {
      const setup = new HistoryRing(new SqlRingStore(raw), 5);
      for (let i = 0; i < 5; i++) setup.append(message(`fill ${i}`), "ann");
      const { sql, written } = counting(raw);
      const ring = new HistoryRing(new SqlRingStore(sql), 5);
      const before = written();
      for (let i = 0; i < 20; i++) ring.append(message(`m${i}`, `id${i}`), "ann");
      const perMessage = (written() - before) / 20;
      expect(perMessage).toBe(1);
    }));

  it("continues seq and keeps the ring across a reload, as after a wake-up or restart", () =>
    withSql("ring-reload", (sql) => {
      const first = new HistoryRing(new SqlRingStore(sql), 4);
      for (let i = 1; i <= 6; i++) first.append(message(`m${i}`, `id${i}`), "ann");
      const second = new HistoryRing(new SqlRingStore(sql), 4);
      expect(second.latestSeq).toBe(6);
      expect(second.findByClientId("ann", "id6")).toBeDefined();
      expect(second.findByClientId("ann", "id2")).toBeUndefined(); // left the ring
      expect(JSON.parse(second.append(message("m7"), "ann")).seq).toBe(7);
    }));

  it("grows to a raised HISTORY_LIMIT on the next load, keeping every message and seq", () =>
    withSql("ring-grow", (sql) => {
      const narrow = new HistoryRing(new SqlRingStore(sql), 3);
      for (let i = 1; i <= 5; i++) narrow.append(message(`m${i}`), "ann");
      const wide = new HistoryRing(new SqlRingStore(sql), 5);
      for (let i = 6; i <= 8; i++) wide.append(message(`m${i}`), "ann");
      expect(wide.after().frames.map((f) => JSON.parse(f).seq)).toEqual([4, 5, 6, 7, 8]);
      const reloaded = new HistoryRing(new SqlRingStore(sql), 5);
      expect(reloaded.after().frames.map((f) => JSON.parse(f).seq)).toEqual([4, 5, 6, 7, 8]);
    }));

  it("takes over a room stored in the earlier seq-keyed `history` table", () =>
    withSql("ring-legacy", (sql) => {
      sql.exec("CREATE TABLE history (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL, author TEXT, client_id TEXT)");
      for (let seq = 1; seq <= 4; seq++) {
        const frame = JSON.stringify({
          type: "chat",
          room: "r",
          seq,
          name: "Ann",
          text: `old ${seq}`,
          ts: 1,
          id: `o${seq}`,
        });
        sql.exec("INSERT INTO history VALUES (?, ?, 'ann', ?)", seq, frame, `o${seq}`);
      }
      const ring = new HistoryRing(new SqlRingStore(sql), 3);
      expect(ring.latestSeq).toBe(4);
      expect(ring.after().frames.map((f) => JSON.parse(f).text)).toEqual(["old 2", "old 3", "old 4"]);
      expect(ring.findByClientId("ann", "o4")).toBeDefined();
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'history'").toArray()).toEqual([]);
      expect(JSON.parse(ring.append(message("new"), "ann")).seq).toBe(5);
    }));

  it("shrinks to a lowered HISTORY_LIMIT on the next load", () =>
    withSql("ring-shrink", (sql) => {
      const wide = new HistoryRing(new SqlRingStore(sql), 10);
      for (let i = 1; i <= 10; i++) wide.append(message(`m${i}`), "ann");
      const narrow = new HistoryRing(new SqlRingStore(sql), 2);
      expect(narrow.after().frames.map((f) => JSON.parse(f).seq)).toEqual([9, 10]);
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM ring").one().n).toBe(2);
    }));

  it("reports a gap only when messages after `since` have left the ring", () =>
    withSql("ring-gap", (sql) => {
      const ring = new HistoryRing(new SqlRingStore(sql), 3);
      for (let i = 1; i <= 5; i++) ring.append(message(`m${i}`), "ann"); // ring: 3, 4, 5
      expect(ring.after(2)).toMatchObject({ gap: false });
      expect(ring.after(1)).toMatchObject({ gap: true });
      expect(ring.after(0).frames).toHaveLength(3);
      expect(ring.after(5)).toEqual({ frames: [], gap: false });
      expect(ring.after(99)).toEqual({ frames: [], gap: false });
    }));

  it("stores the frame it broadcasts, with bot only on API posts", () =>
    withSql("ring-frame", (sql) => {
      const ring = new HistoryRing(new SqlRingStore(sql), 3);
      const human = JSON.parse(ring.append(message("hi", "c1"), "ann"));
      const bot = JSON.parse(ring.append({ room: "r", name: "deploy-bot", text: "done", ts: 2, bot: true }, null));
      expect(human).toEqual({ type: "chat", room: "r", seq: 1, name: "Ann", text: "hi", ts: 1, id: "c1" });
      expect(bot).toEqual({ type: "chat", room: "r", seq: 2, name: "deploy-bot", text: "done", ts: 2, bot: true });
    }));
});
