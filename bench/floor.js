// The floor: the least a hibernating chat room can do. It accepts sockets
// with the Hibernation API, answers each socket's first frame (its join)
// with a fixed small welcome and nothing else, and sends every later text
// frame, as is, to every socket in the room, the sender included. No
// parsing, no names, no storage, no rate limit, no presence, and no
// compression (declined as edge-chat declines it). Its sockets are
// kept in a Set rebuilt on wake-up, the cheapest correct way to find them;
// which ones were welcomed is in their attachment, so hibernation keeps it.
// The benchmark runs it next to edge-chat on the same workerd, behind the
// static-assets router like edge-chat and without it, and reports
// edge-chat's figures as ratios to both. With FLOOR_STORES set (the durable
// floor) it also writes each relayed frame to a 100-row SQLite ring before
// sending it, as edge-chat stores each chat before its broadcast. With
// FLOOR_PROTOCOL set (with FLOOR_STORES: the protocol floor, an experiment)
// it parses each frame and relays, and stores, a chat frame of edge-chat's
// shape in its place (type, room, seq, v, name, text, ts, id: what §2.2
// puts in every broadcast): the cost of the wire format alone, with none
// of the room's rules. With FLOOR_BATCHES set as well (the batched floor,
// an experiment) it commits as edge-chat's group commit does
// (src/room/group-commit.ts): frames that arrive while a commit is in
// flight wait, and are relayed together once it lands, one transaction for
// them all; still stored before anyone receives them. With FLOOR_ARCHIVE
// set instead of the ring (with FLOOR_STORES and FLOOR_PROTOCOL: the archive
// floor, an experiment) it keeps every chat as §8 asks: one row of
// edge-chat's message_log shape per chat in a table that only grows, and
// the chats' words in a contentless FTS5 index, INDEX_BATCH at a time
// (src/room/storage/sql-messages.ts). It prices §8's guarantees, kept and
// searchable, with none of the room's rules. FLOOR_BATCHES combines with
// it (the batched archive floor). With FLOOR_RULES as well (the rules
// floor, an experiment) it also holds every chat to the checks §2.2 and
// §2.4 ask of each one, in their cheapest form: the text rule, the `id`
// retry (the original frame again, to the sender alone, while the id's
// message is among the last 100), a token bucket per name and one per
// address, a mute check, and a look for `@` (§10.2's mentions; the bench's
// chats have none). A refused chat is answered with an error frame.
// With FLOOR_REPLAY (with FLOOR_PROTOCOL: the replay floor, an experiment)
// its welcome carries the last 100 chat frames, as edge-chat's welcome
// replays its ring (§2.1), from memory.
import { DurableObject } from "cloudflare:workers";

const WELCOME = '{"type":"welcome"}';
const INSERT_MESSAGE =
  "INSERT INTO message_log (seq, v, ts, frame, author, client_id, reactors, evicted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
// src/shared/search.ts's ASCII path; the bench's chats are ASCII.
const ASCII = /^\p{ASCII}*$/u;
const NOT_ASCII_WORD = /[^a-z0-9]+/;
// The rules floor's limits: edge-chat's defaults for the text, and the
// bench's own raised rates (bench/systems.mjs), so no bench chat is refused.
const MAX_CHARS = 2000;
const CONTROL = /[\p{Cc}--[\n\t]]/v;
const RATE = { burst: 1_000_000, perSec: 1_000_000 };
const ADDRESS_RATE = { burst: 100_000, perSec: 100_000 };
// The ring a join replays and a retry looks in: edge-chat's default (HISTORY_LIMIT).
const RING = 100;
const REFUSED = '{"type":"error","code":"bad_message"}';
const RATE_LIMITED = '{"type":"error","code":"rate_limited"}';

/** The map's value for a key, made and set by `make` the first time. */
function slot(map, key, make) {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** A token bucket, spent in place: whether a token was there. */
function spend(bucket, rate, now) {
  const tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) * rate.perSec) / 1000);
  if (tokens < 1) return false;
  bucket.tokens = tokens - 1;
  bucket.at = now;
  return true;
}

export class FloorRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sockets = new Set(ctx.getWebSockets());
    this.welcomed = new WeakSet(ctx.getWebSockets().filter((ws) => ws.deserializeAttachment() !== null));
    this.stores = Boolean(env.FLOOR_STORES);
    this.protocol = Boolean(env.FLOOR_PROTOCOL);
    this.batches = Boolean(env.FLOOR_BATCHES);
    /** The batched floor's frames waiting for the commit in flight, and that commit. */
    this.waiting = [];
    this.flight = undefined;
    this.slot = 0;
    // The protocol floor's numbering restarts when the object does: a floor, not a product.
    this.seq = 0;
    /** The protocol floor's senders, by socket: their attachments, read once. */
    this.senders = new WeakMap();
    this.archive = Boolean(env.FLOOR_ARCHIVE);
    /** The archive floor's chats not yet in its index: [seq, words]. */
    this.unindexed = [];
    this.rules = Boolean(env.FLOOR_RULES);
    this.replay = Boolean(env.FLOOR_REPLAY);
    /** The replay floor's last RING chat frames, oldest first (a wake-up starts it empty: a floor). */
    this.recent = [];
    /** The rules floor's state, in memory as edge-chat keeps it: the last ids by name, their order, buckets, mutes. */
    this.ids = new Map();
    this.idOrder = [];
    this.buckets = new Map();
    this.addressBuckets = new Map();
    this.muted = new Set();
    this.addresses = new WeakMap();
    if (this.archive) this.#createArchive();
    else if (this.stores)
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS ring (slot INTEGER PRIMARY KEY, frame TEXT)");
  }

  fetch(request) {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    // Only the protocol floor names its room: the other floors stay as they were measured.
    if (this.protocol) this.room = new URL(request.url).pathname.split("/")[2] ?? "";
    if (this.rules) this.addresses.set(server, request.headers.get("CF-Connecting-IP") ?? "unknown");
    this.sockets.add(server);
    // No permessage-deflate, as edge-chat's rooms (src/worker/upgrade.ts):
    // otherwise the comparison would weigh each system's bytes deflated per socket.
    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Extensions": "none" } });
  }

  webSocketMessage(ws, message) {
    if (!this.welcomed.has(ws)) {
      this.welcomed.add(ws);
      // The protocol floor keeps the name a chat frame carries where hibernation keeps it, as edge-chat does,
      // and in memory for the chats that follow.
      if (this.protocol) {
        const sender = { room: this.room, name: String(JSON.parse(message).name), address: this.addresses.get(ws) };
        this.senders.set(ws, sender);
        ws.serializeAttachment(sender);
      } else ws.serializeAttachment(1);
      ws.send(this.replay ? `{"type":"welcome","history":[${this.recent.join(",")}]}` : WELCOME);
      return;
    }
    if (!this.batches) return this.#relay(ws, message);
    if (this.flight) {
      this.waiting.push([ws, message]);
      return this.flight;
    }
    this.#relay(ws, message);
    this.flight = this.#commit();
  }

  /** As group-commit.ts: after a failed commit too, the waiting frames go on rather than wait for ever. */
  #commit() {
    return this.ctx.storage.sync().then(
      () => this.#next(),
      () => this.#next(),
    );
  }

  /** The batched floor: once a commit lands, the frames that came meanwhile, in one turn; then their commit. */
  #next() {
    this.flight = undefined;
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    for (const [ws, message] of batch) this.#relay(ws, message);
    this.flight = this.#commit();
  }

  /** edge-chat's tables (src/room/storage/sql-messages.ts), and its numbering carried on across restarts, as a log needs. */
  #createArchive() {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS message_log (
      seq INTEGER PRIMARY KEY, v INTEGER NOT NULL, ts INTEGER NOT NULL, frame TEXT NOT NULL,
      author TEXT, client_id TEXT, reactors TEXT, evicted INTEGER NOT NULL)`);
    sql.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS message_words
      USING fts5(words, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`);
    sql.exec("CREATE TABLE IF NOT EXISTS history_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    this.seq = sql.exec("SELECT COALESCE(MAX(seq), 0) AS seq FROM message_log").one().seq;
  }

  /** One chat into the archive; every INDEX_BATCH (64) chats, their words into the index in one go, as edge-chat does. */
  #keep(message, name, text, id) {
    const sql = this.ctx.storage.sql;
    sql.exec(INSERT_MESSAGE, this.seq, this.seq, Date.now(), message, name, id ?? null, null, 0);
    // Other text goes in as sent: the bench sends none, and this is a floor.
    const words = ASCII.test(text) ? text.toLowerCase().split(NOT_ASCII_WORD).filter(Boolean).join(" ") : text;
    this.unindexed.push([this.seq, words]);
    if (this.unindexed.length < 64) return;
    for (const [seq, words] of this.unindexed) {
      if (words) sql.exec("INSERT INTO message_words (rowid, words) VALUES (?, ?)", seq, words);
    }
    sql.exec("INSERT OR REPLACE INTO history_counters (name, value) VALUES ('indexed', ?)", this.seq);
    this.unindexed = [];
  }

  /** The rules floor: whether this chat may be stored and sent; if not, the sender is answered. */
  #admits(ws, sender, text, id) {
    if (typeof text !== "string" || !/\S/u.test(text) || CONTROL.test(text) || text.length > MAX_CHARS) {
      ws.send(REFUSED);
      return false;
    }
    if (id !== undefined && (typeof id !== "string" || id.length > 64)) {
      ws.send(REFUSED);
      return false;
    }
    const again = id === undefined ? undefined : this.ids.get(sender.name)?.get(id);
    if (again !== undefined) {
      ws.send(again);
      return false;
    }
    if (this.muted.has(sender.name)) {
      ws.send(REFUSED);
      return false;
    }
    const now = Date.now();
    const bucket = slot(this.buckets, sender.name, () => ({ tokens: RATE.burst, at: now }));
    const shared = slot(this.addressBuckets, sender.address, () => ({ tokens: ADDRESS_RATE.burst, at: now }));
    if (!spend(bucket, RATE, now) || !spend(shared, ADDRESS_RATE, now)) {
      ws.send(RATE_LIMITED);
      return false;
    }
    // §10.2: only a text with an `@` can mention anyone; the bench's have none.
    if (text.includes("@")) this.mentions = text.split("@").length - 1;
    return true;
  }

  /** The rules floor: a sent id is answered again while its message is among the last RING. */
  #remember(name, id, frame) {
    slot(this.ids, name, () => new Map()).set(id, frame);
    this.idOrder.push([name, id]);
    if (this.idOrder.length <= RING) return;
    const [oldName, oldId] = this.idOrder.shift();
    const old = this.ids.get(oldName);
    old?.delete(oldId);
    if (old?.size === 0) this.ids.delete(oldName);
  }

  // Private, as are #next and #commit: a Durable Object's public methods are RPC methods.
  #relay(ws, message) {
    if (this.protocol) {
      // From memory, or once from the attachment after a wake-up, as edge-chat reads it.
      let sender = this.senders.get(ws);
      if (!sender) {
        sender = ws.deserializeAttachment();
        this.senders.set(ws, sender);
      }
      const { room, name } = sender;
      const { text, id } = JSON.parse(message);
      if (this.rules && !this.#admits(ws, sender, text, id)) return;
      this.seq++;
      message = JSON.stringify({ type: "chat", room, seq: this.seq, v: this.seq, name, text, ts: Date.now(), id });
      if (this.archive) this.#keep(message, name, String(text), id);
      if (this.rules && typeof id === "string") this.#remember(name, id, message);
      if (this.replay && this.recent.push(message) > RING) this.recent.shift();
    }
    if (this.stores && !this.archive) {
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO ring (slot, frame) VALUES (?, ?)", this.slot, message);
      this.slot = (this.slot + 1) % 100;
    }
    for (const socket of this.sockets) {
      try {
        socket.send(message);
      } catch {
        this.sockets.delete(socket);
      }
    }
  }

  webSocketClose(ws, code) {
    this.sockets.delete(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code);
    } catch {}
  }

  webSocketError(ws) {
    this.sockets.delete(ws);
  }
}

export default {
  fetch(request, env) {
    const room = new URL(request.url).pathname.split("/")[2] ?? "";
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },
};
