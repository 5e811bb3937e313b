/**
 * ChatRoom: one Durable Object per room name, speaking protocol v1 over
 * hibernatable WebSockets.
 *
 * What lives where, and why:
 * - Per socket (name, token, join order, rate and join buckets, address):
 *   the socket attachment, which the runtime keeps while the object is
 *   evicted (src/session.ts). The address is also the socket's tag, so the
 *   runtime counts an address's sockets for us (ctx.getWebSockets(tag)).
 * - The room (seq and the last HISTORY_LIMIT messages): SQLite (src/history.ts).
 * - Budgets that follow a person across sockets and names: src/room-limits.ts.
 * - In memory only, rebuilt on every wake-up: the socket → session map, the
 *   roster, and each socket's reply-byte budget (see #reply). Nothing else in
 *   memory is the only copy of anything, and the object sets no timers:
 *   what must happen later (closing a socket that never joined) is an alarm.
 *
 * Every handler is synchronous (SQLite calls in a Durable Object are), so one
 * frame is handled completely before the next starts: no await, no
 * interleaving, no lock needed for "exactly one of 50 racing joins wins".
 */
import { DurableObject } from "cloudflare:workers";
import { openDirectory } from "../directory/directory";
import { CountReporter } from "../directory/reporter";
import { type Limits, readLimits } from "../shared/limits";
import { nameKey, normalizeName } from "../shared/names";
import {
  CLOSE_JOIN_TIMEOUT,
  CLOSE_REPLACED,
  type ClientFrameOf,
  PING_TEXT,
  PONG_TEXT,
  type PublishResult,
  parseClientFrame,
  type RoomSnapshot,
} from "../shared/protocol";
import { type Bucket, emptier, fullBucket, type Rate, spend, spendIntoDebt } from "../shared/rate-limit";
import { encode, encodeWelcome, errorFrame } from "../shared/server-frames";
import { checkText, utf8Length } from "../shared/text";
import { ADDRESS_HEADER, UNKNOWN_ADDRESS } from "../worker/address";
import { RoomLimits } from "./budgets";
import { HistoryRing } from "./history";
import { Roster } from "./roster";
import { loadSession, newSession, type Session, saveSession } from "./session";
import { newToken, tokensEqual } from "./token";

type Member = NonNullable<Session["member"]>;
/** A serialized frame for the socket that sent the frame being handled. */
type Reply = string | undefined;

export class ChatRoom extends DurableObject<Env> {
  readonly #limits: Limits;
  readonly #room: string;
  readonly #sessions = new Map<WebSocket, Session>();
  readonly #roster: Roster<WebSocket>;
  readonly #directory: CountReporter;
  readonly #perSocket: Rate;
  readonly #socketJoins: Rate;
  readonly #replyBytes: Rate;
  readonly #limiter: RoomLimits;
  /**
   * Bytes each socket may still be sent in answer to its own frames. Memory
   * only: it is spent on every error, and an eviction (after ~10 s of
   * silence) refilling it costs little, because the join budget in the
   * attachment still bounds the large answers, the welcomes.
   */
  readonly #replyBudget = new WeakMap<WebSocket, Bucket>();
  /** When the alarm is set for (null: none); undefined until known after a wake-up. */
  #alarmAt: number | null | undefined;
  #ring: HistoryRing | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const limits = readLimits(env);
    this.#limits = limits;
    this.#perSocket = { burst: limits.rateBurst, perSec: limits.ratePerSec };
    this.#socketJoins = { burst: limits.joinsPerMinute, perSec: limits.joinsPerMinute / 60 };
    this.#replyBytes = { burst: limits.replyBytesPerMinute, perSec: limits.replyBytesPerMinute / 60 };
    this.#limiter = new RoomLimits(ctx.storage.sql, limits);
    // The worker only reaches rooms through idFromName, and the runtime hands
    // that name back here, so the room needs no storage read to know itself.
    const room = ctx.id.name;
    if (room === undefined) throw new Error("ChatRoom must be addressed with idFromName(room)");
    this.#room = room;

    const directory = openDirectory(env.DIRECTORY);
    this.#directory = new CountReporter(
      (users) => directory.report(room, users),
      (work) => ctx.waitUntil(work),
      (err) => console.warn(`room ${room}: directory report failed:`, errorName(err)),
    );

    // Answered by the runtime itself, so a heartbeat never wakes the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));

    // Wake-up: the attachments are the truth about who is here.
    const now = Date.now();
    const members = [];
    for (const ws of ctx.getWebSockets()) {
      const session = loadSession(ws, limits, now);
      this.#sessions.set(ws, session);
      if (session.member) members.push({ ...session.member, socket: ws });
    }
    this.#roster = Roster.restore(members);
    // Sockets already here at construction mean this is a wake-up from
    // hibernation; worth one line, and the eviction tests look for it.
    if (this.#sessions.size > 0) {
      console.log(`room ${room}: woke from hibernation with ${this.#sessions.size} sockets`);
    }
    // The directory may hold a stale count for this room (sockets that a
    // restart cut without close events); a wake-up corrects it. A room
    // nobody ever joined cannot be listed, so it stays silent: reads of
    // made-up room names must not turn into calls on the one directory.
    if (this.#roster.size > 0 || this.#limiter.anyoneJoined()) this.#directory.update(this.#roster.size);
  }

  /** Loaded on first use: most wake-ups (a close, a typing frame) never need it. */
  get #history(): HistoryRing {
    this.#ring ??= new HistoryRing(this.ctx.storage.sql, this.#limits.historyLimit);
    return this.#ring;
  }

  // -------------------------------------------------------------------------
  // Runtime entry points
  // -------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    // The worker has already checked the room, origin and upgrade; this guard
    // only keeps a misrouted plain request from being accepted as a socket.
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(
        { error: "websocket_required", message: "Connect with a WebSocket upgrade." },
        { status: 426 },
      );
    }
    // Counted before accepting, so a refused socket costs the room nothing.
    // Sockets are tagged with their address; the runtime keeps tags across
    // hibernation and counts them for us.
    const address = request.headers.get(ADDRESS_HEADER) ?? UNKNOWN_ADDRESS;
    const tag = addressTag(address);
    if (this.ctx.getWebSockets(tag).length >= this.#limits.maxSocketsPerAddress) {
      return tooManySockets("Too many connections from your address to this room.");
    }
    if (this.ctx.getWebSockets().length - this.#roster.size >= this.#limits.maxUnjoinedSockets) {
      return tooManySockets("Too many connections to this room are waiting to join; try again shortly.");
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [tag]);
    const now = Date.now();
    const session = newSession(this.#limits, address, now);
    saveSession(server, session);
    this.#sessions.set(server, session);
    this.#armJoinTimeout(now + this.#limits.joinTimeoutMs);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    try {
      const reply = this.#dispatch(ws, message);
      if (reply !== undefined) this.#reply(ws, reply);
    } catch (err) {
      // Never a stack to the client, and never the frame's text in the log.
      console.error(`room ${this.#room}: frame handler failed:`, errorName(err));
      this.#reply(ws, errorFrame("internal_error"));
    }
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#disconnect(ws);
    // With compatibility_date >= 2026-04-07 the runtime has already answered
    // the close frame and this call is ignored; it stays for older dates so a
    // copied pattern never leaves clients hanging in CLOSING. 1005 (no code),
    // 1006 (abnormal) and 1015 (TLS) describe a closure and may not be sent.
    const reply = code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
    try {
      ws.close(reply, reason);
    } catch {
      // Already closed: nothing to answer.
    }
  }

  override webSocketError(ws: WebSocket, error: unknown): void {
    console.warn(`room ${this.#room}: socket error:`, errorName(error));
    this.#disconnect(ws);
  }

  /**
   * Runs when the earliest join deadline has passed, also while the room is
   * hibernated (the runtime wakes it for this). Closes every socket that has
   * held no name for JOIN_TIMEOUT_MS, forgets refilled budgets, and sets the
   * alarm for the next deadline.
   */
  override alarm(): void {
    const now = Date.now();
    for (const [ws, session] of this.#sessions) {
      if (session.member || session.idleSince + this.#limits.joinTimeoutMs > now) continue;
      try {
        ws.close(CLOSE_JOIN_TIMEOUT, "join_timeout");
      } catch {
        // Already closing: its close event cleans up.
      }
      this.#sessions.delete(ws);
    }
    this.#limiter.prune(now);
    this.#alarmAt = null;
    const next = this.#earliestJoinDeadline();
    if (next !== undefined) this.#setAlarm(next);
  }

  // -------------------------------------------------------------------------
  // RPC for the HTTP API (protocol §4). Synchronous like the frame handlers,
  // so a publish is ordered with chats exactly as another frame would be.
  // -------------------------------------------------------------------------

  snapshot(): RoomSnapshot {
    const history = this.#history;
    return { users: this.#roster.names(), seq: history.latestSeq, history: history.size };
  }

  /**
   * Storage cost since this object woke, for the benchmark and operators:
   * SQLite rows written and read by the history ring (the billed units).
   */
  metrics(): { rowsWritten: number; rowsRead: number } {
    const history = this.#history;
    return { rowsWritten: history.rowsWritten, rowsRead: history.rowsRead };
  }

  /** Serialized chat frames with seq > since, oldest first, at most `limit`. */
  messages(since: number, limit: number): string[] {
    return this.#history.page(since, limit);
  }

  /**
   * A message from outside (a bot, a CI job): stored and broadcast like a
   * chat, marked `bot`. The name follows join's rules and may not be one a
   * joined user holds, so a bot cannot speak as a person in the room.
   */
  publish(name: string, text: string): PublishResult {
    const claimed = normalizeName(name, this.#limits.maxNameChars);
    if (!claimed.ok) return { ok: false, code: "name_invalid", message: claimed.message };
    if (this.#roster.get(claimed.key)) {
      return { ok: false, code: "name_taken", message: "A user in the room holds that name." };
    }
    const check = checkText(text, this.#limits.maxMessageChars);
    if (!check.ok) return check;
    const frame = this.#history.append({ room: this.#room, name: claimed.name, text, ts: Date.now(), bot: true }, null);
    this.#broadcast(frame);
    return { ok: true, frame };
  }

  // -------------------------------------------------------------------------
  // Frames. Each handler returns the frame its sender gets back (a welcome,
  // an error, a pong), or undefined when the sender's answer, if any, is
  // part of a broadcast.
  // -------------------------------------------------------------------------

  #dispatch(ws: WebSocket, message: string | ArrayBuffer): Reply {
    const parsed = parseClientFrame(message, this.#limits.maxFrameBytes);
    if (!parsed.ok) return errorFrame(parsed.code, parsed.message);
    const session = this.#session(ws);
    const frame = parsed.frame;
    if (frame.type === "ping") return PONG_TEXT;
    if (frame.type === "join") return this.#join(ws, session, frame);
    // Everything else needs a name.
    const member = session.member;
    if (!member) return errorFrame("not_joined");
    switch (frame.type) {
      case "chat":
        return this.#chat(ws, session, member, frame);
      case "dm":
        return this.#dm(ws, session, member, frame);
      case "typing":
        // One relayed per name per TYPING_INTERVAL_MS; the rest are dropped
        // silently (the next keystroke sends another).
        if (this.#limiter.typing(member.key, Date.now())) {
          this.#broadcast(encode({ type: "typing", room: this.#room, name: member.name }), ws);
        }
        return undefined;
      case "leave":
        this.#leave(ws, session, member);
        return undefined;
    }
  }

  #join(ws: WebSocket, session: Session, frame: ClientFrameOf<"join">): Reply {
    if (session.member) return errorFrame("already_joined");
    const claimed = normalizeName(frame.name, this.#limits.maxNameChars);
    if (!claimed.ok) return errorFrame("name_invalid", claimed.message);
    // A join answers with a welcome of up to the whole ring, so joins are
    // what one socket could turn into unbounded output: each socket, each
    // address, and each socket's reply bytes have a budget. Only a join
    // that succeeds spends from the join budgets.
    const now = Date.now();
    const joins = spend(session.joins, this.#socketJoins, now);
    if (!joins || !this.#limiter.canJoin(session.address, now) || !this.#canReply(ws, now)) {
      return errorFrame("rate_limited", "Too many joins; wait a minute before joining again.");
    }

    const holder = this.#roster.get(claimed.key);
    if (holder) {
      if (frame.token === undefined || !tokensEqual(frame.token, holder.token)) return errorFrame("name_taken");
      session.joins = joins;
      return this.#reclaim(ws, session, holder.socket, frame.since);
    }
    if (this.#roster.size >= this.#limits.maxRoomUsers) return errorFrame("room_full");

    const member: Member = {
      name: claimed.name,
      key: claimed.key,
      token: newToken(),
      order: this.#roster.nextOrder(),
    };
    session.member = member;
    session.joins = joins;
    // The name's bucket follows it: a name that left with an empty bucket
    // comes back to the same bucket on any socket (src/room-limits.ts).
    const left = this.#limiter.recall(member.key);
    if (left) session.bucket = emptier(session.bucket, left, this.#perSocket, now);
    saveSession(ws, session);
    this.#limiter.joined(session.address, now);
    this.#roster.add({ ...member, socket: ws });
    this.#broadcast(this.#presence("joined", member.name), ws);
    this.#directory.update(this.#roster.size);
    return this.#welcome(member, frame.since);
  }

  /**
   * The holder's token moves the name to this socket. The old socket is
   * detached before it is closed, so its eventual close event finds no name
   * and announces no `left`: the others see no change at all.
   */
  #reclaim(ws: WebSocket, session: Session, old: WebSocket, since: number | undefined): Reply {
    const oldSession = this.#sessions.get(old);
    const member = oldSession?.member;
    if (!oldSession || !member) throw new Error("roster and sessions disagree");
    // Same person, same budget: a reconnect must not refill the rate bucket.
    session.bucket = oldSession.bucket;
    session.member = member;
    saveSession(ws, session);
    this.#limiter.joined(session.address, Date.now());
    oldSession.member = undefined;
    saveSession(old, oldSession);
    this.#roster.handOver(member.key, ws);

    send(old, errorFrame("replaced"));
    try {
      old.close(CLOSE_REPLACED, "replaced");
    } catch {
      // The old socket was already gone; the hand-over stands.
    }
    return this.#welcome(member, since);
  }

  #welcome(member: Member, since: number | undefined): string {
    const history = this.#history;
    const { frames, gap } = history.after(since, this.#limits.welcomeHistoryBytes);
    const welcome = {
      type: "welcome" as const,
      room: this.#room,
      name: member.name,
      users: this.#roster.names(),
      seq: history.latestSeq,
      token: member.token,
      gap,
    };
    return encodeWelcome(welcome, frames);
  }

  #chat(ws: WebSocket, session: Session, member: Member, frame: ClientFrameOf<"chat">): Reply {
    const check = checkText(frame.text, this.#limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const history = this.#history;
    if (frame.id !== undefined) {
      // A retry of a message already stored: the sender alone gets the
      // original again, and it costs no rate token.
      const original = history.findByClientId(member.key, frame.id);
      if (original !== undefined) return original;
    }
    if (!this.#spend(ws, session)) return errorFrame("rate_limited");
    // Storage first, then the broadcast: the output gate holds these sends
    // until the INSERT is durable, so no client ever sees a message that a
    // crash could take back.
    const stored = history.append(
      { room: this.#room, name: member.name, text: frame.text, ts: Date.now(), id: frame.id },
      member.key,
    );
    this.#broadcast(stored);
    return undefined;
  }

  #dm(ws: WebSocket, session: Session, member: Member, frame: ClientFrameOf<"dm">): Reply {
    const check = checkText(frame.text, this.#limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const target = this.#roster.get(nameKey(frame.to.trim()));
    if (!target) return errorFrame("no_such_user");
    if (!this.#spend(ws, session)) return errorFrame("rate_limited");
    const dm = encode({ type: "dm", from: member.name, to: target.name, text: frame.text, ts: Date.now() });
    // The echo is the sender's reply; a dm to oneself arrives once.
    if (target.socket !== ws) send(target.socket, dm);
    return dm;
  }

  #leave(ws: WebSocket, session: Session, member: Member): void {
    const now = Date.now();
    session.member = undefined;
    // The socket may stay open unjoined; the join timeout counts from now.
    session.idleSince = now;
    saveSession(ws, session);
    this.#release(ws, session, member);
    this.#armJoinTimeout(now + this.#limits.joinTimeoutMs);
  }

  // -------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------

  /** A socket's session; sockets accepted before a wake-up were loaded in the constructor. */
  #session(ws: WebSocket): Session {
    let session = this.#sessions.get(ws);
    if (!session) {
      session = loadSession(ws, this.#limits, Date.now());
      this.#sessions.set(ws, session);
    }
    return session;
  }

  /**
   * Spends one chat/dm token from the user's bucket and one from the
   * address's shared bucket; refuses if either is empty (and then spends
   * neither, so a refused frame does not delay the next one).
   */
  #spend(ws: WebSocket, session: Session): boolean {
    const now = Date.now();
    const bucket = spend(session.bucket, this.#perSocket, now);
    if (!bucket || !this.#limiter.post(session.address, now)) return false;
    session.bucket = bucket;
    // Written through on every spend: the object can be evicted after any
    // frame, and a bucket kept only in memory would refill on wake-up.
    saveSession(ws, session);
    return true;
  }

  /** A closed or failed socket gives its name back and the others hear `left`. */
  #disconnect(ws: WebSocket): void {
    const session = this.#sessions.get(ws) ?? loadSession(ws, this.#limits, Date.now());
    this.#sessions.delete(ws);
    if (session.member) this.#release(ws, session, session.member);
  }

  /**
   * Frees a name if this socket still holds it. A socket whose name was
   * handed over (reclaim) or already released (an error, then its close)
   * no longer holds it, so `left` is announced exactly once. The name's
   * bucket is remembered, so coming back on any socket does not refill it.
   */
  #release(ws: WebSocket, session: Session, member: Member): void {
    if (!this.#roster.remove(member.key, ws)) return;
    this.#limiter.remember(member.key, session.bucket, Date.now());
    this.#broadcast(this.#presence("left", member.name));
    this.#directory.update(this.#roster.size);
  }

  /**
   * Sends the answer to a socket's own frame (a welcome, an error, a pong, a
   * retried chat). These are bounded per socket in bytes per minute: a
   * client that never reads its socket would otherwise make the runtime
   * buffer every answer. Past the budget answers are dropped, not queued.
   */
  #reply(ws: WebSocket, frame: string): void {
    const now = Date.now();
    const budget = this.#replyBudget.get(ws) ?? fullBucket(this.#replyBytes.burst, now);
    const next = spendIntoDebt(budget, this.#replyBytes, now, utf8Length(frame));
    if (!next) return;
    this.#replyBudget.set(ws, next);
    send(ws, frame);
  }

  #canReply(ws: WebSocket, now: number): boolean {
    const budget = this.#replyBudget.get(ws);
    return !budget || spendIntoDebt(budget, this.#replyBytes, now, 0) !== null;
  }

  /** Makes sure the alarm fires by `deadline` (a socket's join timeout). */
  #armJoinTimeout(deadline: number): void {
    // After a wake-up the stored alarm is unknown; the sessions say what it should be.
    if (this.#alarmAt === undefined) {
      this.#alarmAt = null;
      deadline = Math.min(deadline, this.#earliestJoinDeadline() ?? deadline);
    } else if (this.#alarmAt !== null && this.#alarmAt <= deadline) {
      return;
    }
    this.#setAlarm(deadline);
  }

  #setAlarm(at: number): void {
    this.#alarmAt = at;
    // Not awaited: the output gate holds this socket's next frames until the
    // alarm is durably set, and storage operations run in order.
    void this.ctx.storage.setAlarm(at);
  }

  #earliestJoinDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const session of this.#sessions.values()) {
      if (session.member) continue;
      const deadline = session.idleSince + this.#limits.joinTimeoutMs;
      if (earliest === undefined || deadline < earliest) earliest = deadline;
    }
    return earliest;
  }

  #presence(type: "joined" | "left", name: string): string {
    return encode({ type, room: this.#room, name, count: this.#roster.size, ts: Date.now() });
  }

  /** Sends one already-serialized frame to every joined socket except `except`. */
  #broadcast(frame: string, except?: WebSocket): void {
    for (const member of this.#roster.members()) {
      if (member.socket !== except) send(member.socket, frame);
    }
  }
}

/** WebSocket.OPEN as a constant: no global lookup per socket in the broadcast loop. */
const OPEN = 1;

/** Sends to an OPEN socket; a socket that closed meanwhile is skipped, not an error. */
function send(ws: WebSocket, frame: string): void {
  if (ws.readyState !== OPEN) return;
  try {
    ws.send(frame);
  } catch {
    // It closed between the check and the send; its close event cleans up.
  }
}

function addressTag(address: string): string {
  return `address:${address}`;
}

function tooManySockets(message: string): Response {
  return Response.json({ error: "too_many_sockets", message }, { status: 429 });
}

function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
