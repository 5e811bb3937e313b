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
// them all; still stored before anyone receives them.
import { DurableObject } from "cloudflare:workers";

const WELCOME = '{"type":"welcome"}';

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
    if (this.stores) ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS ring (slot INTEGER PRIMARY KEY, frame TEXT)");
  }

  fetch(request) {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    // Only the protocol floor names its room: the other floors stay as they were measured.
    if (this.protocol) this.room = new URL(request.url).pathname.split("/")[2] ?? "";
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
        const sender = { room: this.room, name: String(JSON.parse(message).name) };
        this.senders.set(ws, sender);
        ws.serializeAttachment(sender);
      } else ws.serializeAttachment(1);
      ws.send(WELCOME);
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
      this.seq++;
      message = JSON.stringify({ type: "chat", room, seq: this.seq, v: this.seq, name, text, ts: Date.now(), id });
    }
    if (this.stores) {
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
