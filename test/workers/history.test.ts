/**
 * The history ring against real Durable Object SQLite: its size bound, seq
 * continuity across reloads (what a wake-up or restart does) with changes
 * taking numbers too (§7.1), `gap`, the idempotency lookup, resume by `v`,
 * tombstones, and the storage cost per event, read from the cursors' own
 * rowsWritten counters.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HistoryRing, INDEX_BATCH } from "../../src/room/state/history";
import { SqlMessageStore } from "../../src/room/storage/sql-messages";

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

/** A ring over the room's SQLite; retention 0 (the ring only) unless given, on a clock at 10. */
function open(sql: SqlStorage, limit: number, retentionMs = 0, now = () => 10): HistoryRing {
  return new HistoryRing(new SqlMessageStore(sql), { limit, retentionMs, now });
}

const DAY = 86_400_000;

const message = (text: string, id?: string) => ({ room: "r", name: "Ann", text, ts: 1, ...(id ? { id } : {}) });

describe("history ring", () => {
  it("keeps at most HISTORY_LIMIT rows and numbers messages without gaps", () =>
    withSql("ring-bound", (sql) => {
      const ring = open(sql, 3);
      for (let i = 1; i <= 10; i++) ring.append(message(`m${i}`), "ann");
      expect(ring.latestSeq).toBe(10);
      expect(ring.after().frames.map((f) => JSON.parse(f).seq)).toEqual([8, 9, 10]);
      const rows = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_log").one().n;
      expect(rows).toBe(3);
    }));

  it("writes one row per chat (its words join the index in batches) and at most three per change", () =>
    withSql("ring-cost", (raw) => {
      const setup = open(raw, 5, 90 * DAY);
      for (let i = 0; i < 8; i++) setup.append(message(`fill ${i}`), "ann");
      const { sql, written } = counting(raw);
      const ring = open(sql, 5, 90 * DAY);
      const cost = (event: () => void) => {
        const before = written();
        event();
        return written() - before;
      };
      const costs = {
        chat: cost(() => ring.append(message("m", "id"), "ann")),
        edit: cost(() => ring.change(ring.latestSeq, (m) => Object.assign(m, { text: "fixed", edited: 2 }))),
        react: cost(() => ring.change(ring.latestSeq - 1, (m, r) => r.set("👍", [["ann", "Ann"]]) && m)),
        delete: cost(() => ring.change(ring.latestSeq - 2, (m) => Object.assign(m, { text: "", deleted: true }))),
      };
      expect(costs.chat).toBe(1);
      expect(Object.values(costs).every((n) => n >= 1 && n <= 3)).toBe(true);
      // Nothing left the table: the ring is the newest five of nine.
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_log").one().n).toBe(9);
    }));

  it("keeps only the ring in storage when HISTORY_RETENTION_DAYS is 0", () =>
    withSql("ring-only", (sql) => {
      const ring = open(sql, 3, 0);
      for (let i = 1; i <= 6; i++) ring.append(message(`word${i}`), "ann");
      ring.indexPending();
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_log").one().n).toBe(3);
      expect(sql.exec("SELECT rowid FROM message_words WHERE message_words MATCH 'word1'").toArray()).toEqual([]);
      expect(sql.exec("SELECT rowid FROM message_words WHERE message_words MATCH 'word6'").toArray()).toHaveLength(1);
    }));

  it("numbers changes with the next seq, and a message's `v` follows its latest change", () =>
    withSql("ring-changes", (sql) => {
      const ring = open(sql, 5);
      ring.append(message("one"), "ann");
      ring.append(message("two"), "ann");
      const edit = ring.change(1, (m) => Object.assign(m, { text: "one, fixed", edited: 5 }));
      expect(edit.seq).toBe(3);
      expect(JSON.parse(ring.append(message("three"), "ann"))).toMatchObject({ seq: 4, v: 4 });
      const reloaded = open(sql, 5);
      expect(reloaded.latestSeq).toBe(4);
      expect(reloaded.after().frames.map((f) => [JSON.parse(f).seq, JSON.parse(f).v])).toEqual([
        [1, 3],
        [2, 2],
        [4, 4],
      ]);
      // A resume after 2 gets the edited message and the new one, each once, ordered by seq.
      expect(reloaded.after(2).frames.map((f) => JSON.parse(f).text)).toEqual(["one, fixed", "three"]);
    }));

  it("pages by `v` over HTTP, so continuing from the largest `v` misses nothing", () =>
    withSql("ring-page", (sql) => {
      const ring = open(sql, 10);
      for (let i = 1; i <= 4; i++) ring.append(message(`m${i}`), "ann");
      ring.change(1, (m) => Object.assign(m, { text: "m1 again", edited: 9 })); // seq 5
      const first = ring.page(0, 2).map((f) => JSON.parse(f));
      expect(first.map((m) => m.seq)).toEqual([2, 3]);
      const next = ring.page(Math.max(...first.map((m) => m.v)), 10).map((f) => JSON.parse(f).seq);
      expect(next).toEqual([1, 4]);
    }));

  it("keeps no trace of a deleted message's text in storage", () =>
    withSql("ring-tombstone", (sql) => {
      const ring = open(sql, 5);
      ring.append(message("a secret I regret"), "ann");
      ring.change(1, (m, r) => r.set("😮", [["ben", "Ben"]]) && m);
      expect(JSON.stringify(sql.exec("SELECT * FROM message_log").toArray())).toContain("Ben");
      ring.change(1, (m, r) => {
        r.clear();
        return Object.assign(m, { text: "", deleted: true });
      });
      const dump = JSON.stringify(sql.exec("SELECT * FROM message_log").toArray());
      expect(dump).not.toContain("secret");
      expect(dump).not.toContain("Ben");
      expect(JSON.parse(ring.after().frames[0] ?? "{}")).toMatchObject({ seq: 1, v: 3, text: "", deleted: true });
    }));

  it("continues seq and keeps the ring across a reload, as after a wake-up or restart", () =>
    withSql("ring-reload", (sql) => {
      const first = open(sql, 4);
      for (let i = 1; i <= 6; i++) first.append(message(`m${i}`, `id${i}`), "ann");
      const second = open(sql, 4);
      expect(second.latestSeq).toBe(6);
      expect(second.findByClientId("ann", "id6")).toBeDefined();
      expect(second.findByClientId("ann", "id2")).toBeUndefined(); // left the ring
      expect(JSON.parse(second.append(message("m7"), "ann")).seq).toBe(7);
    }));

  it("finds a retry's original by its author and id only while it is in the ring, and frees the id when it leaves", () =>
    withSql("ring-ids", (sql) => {
      const ring = open(sql, 2);
      const first = ring.append(message("first", "same"), "ann");
      ring.append(message("ben's", "same"), "ben");
      expect(ring.findByClientId("ann", "same")).toBe(first);
      expect(ring.findByClientId("ben", "same")).not.toBe(first);
      expect(ring.findByClientId("cat", "same")).toBeUndefined();
      ring.append(message("pushes ann's out"), "ann");
      expect(ring.findByClientId("ann", "same")).toBeUndefined();
      const again = ring.append(message("the id reused", "same"), "ann");
      expect(ring.findByClientId("ann", "same")).toBe(again);
    }));

  it("grows to a raised HISTORY_LIMIT on the next load, keeping every message and seq", () =>
    withSql("ring-grow", (sql) => {
      const narrow = open(sql, 3);
      for (let i = 1; i <= 5; i++) narrow.append(message(`m${i}`), "ann");
      const wide = open(sql, 5);
      for (let i = 6; i <= 8; i++) wide.append(message(`m${i}`), "ann");
      expect(wide.after().frames.map((f) => JSON.parse(f).seq)).toEqual([4, 5, 6, 7, 8]);
      const reloaded = open(sql, 5);
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
      const ring = open(sql, 3);
      expect(ring.latestSeq).toBe(4);
      expect(ring.after().frames.map((f) => JSON.parse(f).text)).toEqual(["old 2", "old 3", "old 4"]);
      expect(ring.after().frames.map((f) => JSON.parse(f).v)).toEqual([2, 3, 4]);
      expect(ring.findByClientId("ann", "o4")).toBeDefined();
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'history'").toArray()).toEqual([]);
      expect(JSON.parse(ring.append(message("new"), "ann")).seq).toBe(5);
      // Message 1 left in the move: a resume from 0 is told.
      expect(open(sql, 3).after(0).gap).toBe(true);
    }));

  it("takes over a room stored in the slot-keyed `ring` table of protocol v1", () =>
    withSql("ring-v1", (sql) => {
      sql.exec(
        "CREATE TABLE ring (slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL, frame TEXT NOT NULL, author TEXT, client_id TEXT)",
      );
      for (let seq = 1; seq <= 3; seq++) {
        const frame = JSON.stringify({ type: "chat", room: "r", seq, name: "Ann", text: `v1 ${seq}`, ts: 1 });
        sql.exec("INSERT INTO ring VALUES (?, ?, ?, 'ann', NULL)", seq % 3, seq, frame);
      }
      const ring = open(sql, 3);
      expect(ring.after().frames.map((f) => JSON.parse(f).v)).toEqual([1, 2, 3]);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'ring'").toArray()).toEqual([]);
      expect(JSON.parse(ring.append(message("v2"), "ann"))).toMatchObject({ seq: 4, v: 4 });
    }));

  it("shrinks to a lowered HISTORY_LIMIT on the next load", () =>
    withSql("ring-shrink", (sql) => {
      const wide = open(sql, 10);
      for (let i = 1; i <= 10; i++) wide.append(message(`m${i}`), "ann");
      const narrow = open(sql, 2);
      expect(narrow.after().frames.map((f) => JSON.parse(f).seq)).toEqual([9, 10]);
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_log").one().n).toBe(2);
      expect(narrow.after(7).gap).toBe(true);
      expect(narrow.after(8).gap).toBe(false);
    }));

  it("reports a gap only when messages after `since` have left the ring", () =>
    withSql("ring-gap", (sql) => {
      const ring = open(sql, 3);
      for (let i = 1; i <= 5; i++) ring.append(message(`m${i}`), "ann"); // ring: 3, 4, 5
      expect(ring.after(2)).toMatchObject({ gap: false });
      expect(ring.after(1)).toMatchObject({ gap: true });
      expect(ring.after(0).frames).toHaveLength(3);
      expect(ring.after(5)).toEqual({ frames: [], gap: false });
      expect(ring.after(99)).toEqual({ frames: [], gap: false });
    }));

  it("stores the frame it broadcasts, with bot only on API posts", () =>
    withSql("ring-frame", (sql) => {
      const ring = open(sql, 3);
      const human = JSON.parse(ring.append(message("hi", "c1"), "ann"));
      const bot = JSON.parse(ring.append({ room: "r", name: "deploy-bot", text: "done", ts: 2, bot: true }, null));
      expect(human).toEqual({ type: "chat", room: "r", seq: 1, v: 1, name: "Ann", text: "hi", ts: 1, id: "c1" });
      expect(bot).toEqual({
        type: "chat",
        room: "r",
        seq: 2,
        v: 2,
        name: "deploy-bot",
        text: "done",
        ts: 2,
        bot: true,
      });
    }));

  it("takes over a room written by version 2's `messages` ring, keeping every message, change and number", () =>
    withSql("ring-v2", (sql) => {
      sql.exec(`CREATE TABLE messages (v INTEGER PRIMARY KEY, seq INTEGER NOT NULL, frame TEXT NOT NULL,
        author TEXT, client_id TEXT, reactors TEXT, evicted INTEGER NOT NULL)`);
      const frame = (seq: number, v: number, text: string, extra: object = {}) =>
        JSON.stringify({ type: "chat", room: "r", seq, v, name: "Ann", text, ts: 5, ...extra });
      // Messages 2..4 in the ring (1 left it); 2 was edited (v 6), 3 has a reaction (v 7).
      const rows: Array<[number, number, string, string | null, number]> = [
        [2, 6, frame(2, 6, "the café link", { edited: 5 }), "c2", 1],
        [3, 7, frame(3, 7, "three", { reactions: { "👍": { count: 1, names: ["Ben"] } } }), null, 0],
        [4, 4, frame(4, 4, "four"), "c4", 0],
      ];
      for (const [seq, v, f, id, evicted] of rows) {
        const reactors = seq === 3 ? JSON.stringify({ "👍": [["name:ben", "Ben"]] }) : null;
        sql.exec("INSERT INTO messages VALUES (?, ?, ?, 'name:ann', ?, ?, ?)", v, seq, f, id, reactors, evicted);
      }
      const ring = open(sql, 3, 90 * DAY);
      expect(ring.latestSeq).toBe(7);
      expect(ring.after().frames.map((f) => JSON.parse(f))).toMatchObject([
        { seq: 2, v: 6, text: "the café link", edited: 5 },
        { seq: 3, v: 7, reactions: { "👍": { count: 1 } } },
        { seq: 4, v: 4 },
      ]);
      expect(ring.after(0).gap).toBe(true);
      expect(ring.findByClientId("name:ann", "c4")).toBeDefined();
      expect(ring.get(3)?.reactors.get("👍")).toEqual([["name:ben", "Ben"]]);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'messages'").toArray()).toEqual([]);
      // The migrated messages are searchable, and numbering goes on.
      ring.indexPending();
      expect(sql.exec("SELECT rowid FROM message_words WHERE message_words MATCH '\"cafe\"*'").toArray()).toEqual([
        { rowid: 2 },
      ]);
      expect(JSON.parse(ring.append(message("five"), "name:ann"))).toMatchObject({ seq: 8, v: 8 });
      expect(open(sql, 3, 90 * DAY).latestSeq).toBe(8);
    }));

  it("keeps messages beyond the ring, and the index follows edits and deletes", () =>
    withSql("archive-index", (sql) => {
      const ring = open(sql, 2, 90 * DAY);
      for (const text of ["alpha one", "beta two", "gamma three", "delta four"]) ring.append(message(text), "ann");
      ring.indexPending();
      const words = (q: string) =>
        sql
          .exec("SELECT rowid FROM message_words WHERE message_words MATCH ?", q)
          .toArray()
          .map((r) => r.rowid);
      expect(words("alpha")).toEqual([1]);
      // An edit beyond the ring: the old words go, the new ones come.
      ring.change(1, (m) => Object.assign(m, { text: "omega one", edited: 9 }));
      expect(words("alpha")).toEqual([]);
      expect(words("omega")).toEqual([1]);
      // A delete beyond the ring leaves a tombstone with no words and moves the counters.
      ring.change(2, (m) => Object.assign(m, { text: "", deleted: true }));
      expect(words("beta")).toEqual([]);
      expect(open(sql, 2, 90 * DAY).latestSeq).toBe(6);
      expect(
        JSON.parse(sql.exec<{ frame: string }>("SELECT frame FROM message_log WHERE seq = 2").one().frame),
      ).toMatchObject({ text: "", deleted: true, v: 6 });
      // A message edited before its batch is indexed as it is by then.
      ring.append(message("epsilon five"), "ann"); // seq 7
      ring.change(7, (m) => Object.assign(m, { text: "zeta five", edited: 9 }));
      ring.indexPending();
      expect([words("epsilon"), words("zeta")]).toEqual([[], [7]]);
    }));

  it("indexes a batch of INDEX_BATCH messages with the chat that completes it, and reloads where it stopped", () =>
    withSql("archive-batch", (raw) => {
      const { sql, written } = counting(raw);
      const ring = open(sql, 5, 90 * DAY);
      const indexed = () =>
        sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_words WHERE message_words MATCH 'batch'").one().n;
      for (let i = 1; i < INDEX_BATCH; i++) ring.append(message(`batch ${i}`), "ann");
      expect(indexed()).toBe(0);
      const before = written();
      ring.append(message(`batch ${INDEX_BATCH}`), "ann");
      // The row, the batch's entries, and the cursor (SQLite may count its upsert twice).
      const cost = written() - before;
      expect(cost).toBeGreaterThanOrEqual(1 + INDEX_BATCH);
      expect(cost).toBeLessThanOrEqual(1 + INDEX_BATCH + 2);
      expect(indexed()).toBe(INDEX_BATCH);
      ring.append(message("batch after"), "ann");
      const reloaded = open(sql, 5, 90 * DAY);
      reloaded.indexPending();
      expect(indexed()).toBe(INDEX_BATCH + 1);
    }));

  it("indexes a batch from the words it kept, without reading any message back", () =>
    withSql("archive-batch-memory", (raw) => {
      const queries: string[] = [];
      const sql = new Proxy(raw, {
        get(target, prop) {
          if (prop !== "exec") return Reflect.get(target, prop);
          return (query: string, ...bindings: SqlStorageValue[]) => {
            queries.push(query);
            return target.exec(query, ...bindings);
          };
        },
      });
      const ring = open(sql, 100, 90 * DAY);
      for (let i = 1; i < INDEX_BATCH; i++) ring.append(message(`kept ${i}`), "ann");
      queries.length = 0;
      ring.append(message(`kept ${INDEX_BATCH}`), "ann");
      expect(queries.filter((q) => /SELECT/i.test(q))).toEqual([]);
      expect(queries.filter((q) => q.includes("INSERT INTO message_words"))).toHaveLength(INDEX_BATCH);
    }));

  it("indexes messages from before and after a wake-up, each once", () =>
    withSql("archive-batch-wake", (sql) => {
      const first = open(sql, 100, 90 * DAY);
      for (let i = 1; i <= 40; i++) first.append(message(`wake ${i}`), "ann");
      const woken = open(sql, 100, 90 * DAY);
      // The 64th message completes a batch that mixes both instances' messages.
      for (let i = 41; i <= 100; i++) woken.append(message(`wake ${i}`), "ann");
      woken.indexPending();
      const rowids = sql
        .exec<{ rowid: number }>("SELECT rowid FROM message_words WHERE message_words MATCH 'wake' ORDER BY rowid")
        .toArray()
        .map((r) => r.rowid);
      expect(rowids).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    }));

  it("never indexes a message that left a ring-only room before its batch", () =>
    withSql("archive-batch-ring-only", (sql) => {
      const ring = open(sql, 2);
      for (let i = 1; i <= INDEX_BATCH + 6; i++) ring.append(message(`brief ${i}`), "ann");
      ring.indexPending();
      const rowids = sql
        .exec<{ rowid: number }>("SELECT rowid FROM message_words WHERE message_words MATCH 'brief' ORDER BY rowid")
        .toArray()
        .map((r) => r.rowid);
      expect(rowids).toEqual([INDEX_BATCH + 5, INDEX_BATCH + 6]);
    }));

  it("never indexes a message that expired before its batch", () =>
    withSql("archive-batch-expired", (sql) => {
      let now = 1_000_000;
      const ring = new HistoryRing(new SqlMessageStore(sql), { limit: 5, retentionMs: DAY, now: () => now });
      ring.append({ room: "r", name: "Ann", text: "stale one", ts: now }, "ann");
      now += 2 * DAY;
      ring.append({ room: "r", name: "Ann", text: "stale two", ts: now }, "ann");
      ring.forget(new SqlMessageStore(sql).expire(ring.notBefore(), 1000));
      ring.indexPending();
      const rowids = sql
        .exec<{ rowid: number }>("SELECT rowid FROM message_words WHERE message_words MATCH 'stale'")
        .toArray()
        .map((r) => r.rowid);
      expect(rowids).toEqual([2]);
    }));

  it("expires by age: answers leave old messages out at once, the sweep deletes rows and index entries", () =>
    withSql("archive-expiry", (sql) => {
      let now = 1_000_000;
      const retentionMs = 0.5 * DAY;
      const ring = new HistoryRing(new SqlMessageStore(sql), { limit: 2, retentionMs, now: () => now });
      for (let i = 1; i <= 4; i++) {
        ring.append({ room: "r", name: "Ann", text: `note ${i}`, ts: now }, "ann");
        now += 3_600_000;
      }
      // Message 1 was sent 4 h ago; move to where 1 and 2 are past twelve hours.
      now += 0.5 * DAY - 3 * 3_600_000 + 1;
      expect(ring.after().frames.map((f) => JSON.parse(f).seq)).toEqual([3, 4]);
      const store = new SqlMessageStore(sql);
      expect(store.page({ limit: 10, notBefore: ring.notBefore() }).map((r) => r.seq)).toEqual([4, 3]);
      expect(sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_log").one().n).toBe(4);
      ring.indexPending();
      const gone = store.expire(ring.notBefore(), 1000);
      ring.forget(gone);
      expect(gone).toEqual([1, 2]);
      expect(sql.exec("SELECT seq FROM message_log ORDER BY seq").toArray()).toEqual([{ seq: 3 }, { seq: 4 }]);
      expect(sql.exec("SELECT rowid FROM message_words WHERE message_words MATCH 'note'").toArray()).toEqual([
        { rowid: 3 },
        { rowid: 4 },
      ]);
    }));
});
