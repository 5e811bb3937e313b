/**
 * The chat rules of one room (protocol §2–§4), apart from the Durable
 * Object runtime: it works on plain values (members, history, budgets,
 * limits, a clock) and talks to sockets only through RoomIO, so Node tests
 * drive it with plain objects as sockets and in-memory stores. The runtime
 * shell (chat-room.ts) owns the sockets, attachments, alarm and storage.
 *
 * A frame's way: the shell's webSocketMessage → message() here → one
 * handler per frame type → broadcast() or answer(). Every handler is
 * synchronous (SQLite calls in a Durable Object are), so one frame is
 * handled completely before the next starts: no interleaving, no lock
 * needed for "exactly one of 50 racing joins wins".
 */
import type { Limits } from "../shared/limits";
import { nameKey, normalizeName } from "../shared/names";
import {
  CLOSE_JOIN_TIMEOUT,
  type ClientFrameOf,
  PONG_TEXT,
  type PublishResult,
  parseClientFrame,
  type RoomSnapshot,
} from "../shared/protocol";
import { spend } from "../shared/rate-limit";
import { encode, encodePresence, errorFrame } from "../shared/server-frames";
import { checkText } from "../shared/text";
import { AnswerBudget, JoinTimeouts } from "./answers";
import type { RoomBudgets } from "./budgets";
import type { HistoryRing } from "./history";
import { Joins } from "./joins";
import { Members } from "./members";
import { type Member, newSession, type Session } from "./session";

/** What the core needs from the runtime. */
export interface RoomIO<S> {
  /** Sends to an open socket; one that closed meanwhile is skipped. */
  send(socket: S, frame: string): void;
  close(socket: S, code: number, reason: string): void;
  /** Writes a socket's session where hibernation keeps it (the attachment). */
  save(socket: S, session: Session): void;
  /** Reads it back, for a socket this instance has not seen (accepted before a rebuild). */
  load(socket: S): Session;
  setAlarm(at: number): void;
  /** The room's joined-user count changed (or may be stale): tell the directory. */
  reportCount(users: number): void;
}

export interface CoreParts<S> {
  room: string;
  limits: Limits;
  io: RoomIO<S>;
  /** Loaded on first use: most wake-ups (a close, a typing frame) never need it. */
  history: () => HistoryRing;
  budgets: RoomBudgets;
  /** Compares a reclaim token in constant time (the runtime's comparison; Node's in tests). */
  sameToken: (given: string, expected: string) => boolean;
  now?: () => number;
}

/** Why an upgrade is refused before the socket is accepted (§2.4, §2.5). */
export type Refusal = { code: "too_many_sockets"; message: string } | undefined;

export class ChatCore<S extends object> {
  readonly room: string;
  readonly limits: Limits;
  readonly io: RoomIO<S>;
  readonly members: Members<S>;
  readonly budgets: RoomBudgets;
  readonly now: () => number;
  readonly sameToken: (given: string, expected: string) => boolean;
  readonly #history: () => HistoryRing;
  readonly #answers: AnswerBudget<S>;
  readonly #timeouts: JoinTimeouts<S>;
  readonly #joins: Joins<S>;

  /** @param restored the sockets the runtime still holds, with their sessions (a wake-up). */
  constructor(parts: CoreParts<S>, restored: Iterable<readonly [S, Session]> = []) {
    this.room = parts.room;
    this.limits = parts.limits;
    this.io = parts.io;
    this.budgets = parts.budgets;
    this.now = parts.now ?? Date.now;
    this.sameToken = parts.sameToken;
    this.#history = parts.history;
    this.#answers = new AnswerBudget(parts.limits.replyBytesPerMinute);
    this.members = new Members((socket, session) => parts.io.save(socket, session));
    this.members.restore(restored);
    this.#timeouts = new JoinTimeouts((at) => parts.io.setAlarm(at), this.members, parts.limits.joinTimeoutMs);
    this.#joins = new Joins(this);
    // The directory may hold a stale count for this room (sockets that a
    // restart cut without close events); a wake-up corrects it. A room
    // nobody ever joined cannot be listed, so it stays silent: reads of
    // made-up room names must not turn into calls on the one directory.
    if (this.members.size > 0 || this.budgets.anyoneJoined()) this.io.reportCount(this.members.size);
  }

  get history(): HistoryRing {
    return this.#history();
  }

  // -------------------------------------------------------------------------
  // Sockets
  // -------------------------------------------------------------------------

  /** Checked before a socket is accepted, so a refused one costs nothing. */
  admit(address: string): Refusal {
    if (this.members.socketsOf(address) >= this.limits.maxSocketsPerAddress) {
      return { code: "too_many_sockets", message: "Too many connections from your address to this room." };
    }
    if (this.members.sockets - this.members.size >= this.limits.maxUnjoinedSockets) {
      return {
        code: "too_many_sockets",
        message: "Too many connections to this room are waiting to join; try again shortly.",
      };
    }
    return undefined;
  }

  opened(socket: S, address: string): void {
    const now = this.now();
    this.members.open(socket, newSession(this.limits, address, now));
    this.#timeouts.started(now);
  }

  /** A closed or failed socket gives its name back and the others hear `left`. */
  closed(socket: S): void {
    // A socket the room no longer knows was already given up (an error and
    // then its close, or the join timeout): nothing is announced twice.
    const session = this.members.session(socket);
    const member = this.members.close(socket);
    if (session && member) this.#left(session, member);
  }

  message(socket: S, data: string | ArrayBuffer): void {
    try {
      const reply = this.#dispatch(socket, data);
      if (reply !== undefined) this.answer(socket, reply);
    } catch (err) {
      // Never a stack to the client, and never the frame's text in the log.
      console.error(`room ${this.room}: frame handler failed:`, errorName(err));
      this.answer(socket, errorFrame("internal_error"));
    }
  }

  /**
   * The alarm: closes every socket that has held no name for JOIN_TIMEOUT_MS
   * (also while the room was hibernated: the runtime wakes it for this),
   * forgets refilled budgets, and asks for the next deadline.
   */
  alarm(): void {
    const now = this.now();
    for (const socket of this.#timeouts.expire(now)) this.io.close(socket, CLOSE_JOIN_TIMEOUT, "join_timeout");
    this.budgets.prune(now);
  }

  // -------------------------------------------------------------------------
  // The HTTP API (§4): called over RPC, ordered with frames like a frame.
  // -------------------------------------------------------------------------

  snapshot(): RoomSnapshot {
    const history = this.history;
    return { users: this.members.names(), seq: history.latestSeq, history: history.size };
  }

  /** Serialized chat frames with seq > since, oldest first, at most `limit`. */
  messages(since: number, limit: number): string[] {
    return this.history.page(since, limit);
  }

  /**
   * A message from outside (a bot, a CI job): stored and broadcast like a
   * chat, marked `bot`. The name follows join's rules and may not be one a
   * joined user holds, so a bot cannot speak as a person in the room.
   */
  publish(name: string, text: string): PublishResult {
    const claimed = normalizeName(name, this.limits.maxNameChars);
    if (!claimed.ok) return { ok: false, code: "name_invalid", message: claimed.message };
    if (this.members.holder(claimed.key)) {
      return { ok: false, code: "name_taken", message: "A user in the room holds that name." };
    }
    const check = checkText(text, this.limits.maxMessageChars);
    if (!check.ok) return check;
    const frame = this.history.append({ room: this.room, name: claimed.name, text, ts: this.now(), bot: true }, null);
    this.broadcast(frame);
    return { ok: true, frame };
  }

  // -------------------------------------------------------------------------
  // Frames. Each handler returns the answer its sender gets (a welcome, an
  // error, a pong), or undefined when the sender's answer, if any, is part
  // of a broadcast.
  // -------------------------------------------------------------------------

  #dispatch(socket: S, data: string | ArrayBuffer): string | undefined {
    const parsed = parseClientFrame(data, this.limits.maxFrameBytes);
    if (!parsed.ok) return errorFrame(parsed.code, parsed.message);
    const session = this.#session(socket);
    const frame = parsed.frame;
    if (frame.type === "ping") return PONG_TEXT;
    if (frame.type === "join") return this.#joins.join(socket, session, frame);
    // Everything else needs a name.
    const member = session.member;
    if (!member) return errorFrame("not_joined");
    switch (frame.type) {
      case "chat":
        return this.#chat(socket, session, member, frame);
      case "dm":
        return this.#dm(socket, session, member, frame);
      case "typing":
        // One relayed per name per TYPING_INTERVAL_MS; the rest are dropped
        // silently (the next keystroke sends another).
        if (this.budgets.typing(member.key, this.now())) {
          this.broadcast(encode({ type: "typing", room: this.room, name: member.name }), socket);
        }
        return undefined;
      case "leave":
        this.#leave(socket, session);
        return undefined;
    }
  }

  #chat(socket: S, session: Session, member: Member, frame: ClientFrameOf<"chat">): string | undefined {
    const check = checkText(frame.text, this.limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const history = this.history;
    if (frame.id !== undefined) {
      // A retry of a message already stored: the sender alone gets the
      // original again, and it costs no rate token.
      const original = history.findByClientId(member.key, frame.id);
      if (original !== undefined) return original;
    }
    if (!this.#spend(socket, session)) return errorFrame("rate_limited");
    // Storage first, then the broadcast: the output gate holds these sends
    // until the write is durable, so no client ever sees a message that a
    // crash could take back.
    const stored = history.append(
      { room: this.room, name: member.name, text: frame.text, ts: this.now(), id: frame.id },
      member.key,
    );
    this.broadcast(stored);
    return undefined;
  }

  #dm(socket: S, session: Session, member: Member, frame: ClientFrameOf<"dm">): string | undefined {
    const check = checkText(frame.text, this.limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const target = this.members.holder(nameKey(frame.to.trim()));
    if (!target) return errorFrame("no_such_user");
    if (!this.#spend(socket, session)) return errorFrame("rate_limited");
    const dm = encode({ type: "dm", from: member.name, to: target.member.name, text: frame.text, ts: this.now() });
    // The echo is the sender's answer; a dm to oneself arrives once.
    if (target.socket !== socket) this.io.send(target.socket, dm);
    return dm;
  }

  #leave(socket: S, session: Session): void {
    const now = this.now();
    // The socket may stay open unjoined; the join timeout counts from now.
    session.idleSince = now;
    const member = this.members.leave(socket);
    if (member) this.#left(session, member);
    this.#timeouts.started(now);
  }

  /** A name was given back: its bucket is remembered, the others hear `left`. */
  #left(session: Session, member: Member): void {
    this.budgets.remember(member.key, session.bucket, this.now());
    this.broadcast(encodePresence("left", this.room, member.name, this.members.size, this.now()));
    this.io.reportCount(this.members.size);
  }

  /**
   * Spends one chat/dm token from the user's bucket and one from the
   * address's shared bucket; refuses if either is empty (and then spends
   * neither, so a refused frame does not delay the next one).
   */
  #spend(socket: S, session: Session): boolean {
    const now = this.now();
    const bucket = spend(session.bucket, { burst: this.limits.rateBurst, perSec: this.limits.ratePerSec }, now);
    if (!bucket || !this.budgets.post(session.address, now)) return false;
    session.bucket = bucket;
    // Written through on every spend: the object can be evicted after any
    // frame, and a bucket kept only in memory would refill on wake-up.
    this.members.save(socket);
    return true;
  }

  // -------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------

  /** Sends one already-serialized frame to every joined socket except `except`. */
  broadcast(frame: string, except?: S): void {
    for (const socket of this.members.joinedSockets()) {
      if (socket !== except) this.io.send(socket, frame);
    }
  }

  /** Sends the answer to a socket's own frame, within its byte budget (§2.5). */
  answer(socket: S, frame: string): void {
    if (this.#answers.spend(socket, frame, this.now())) this.io.send(socket, frame);
  }

  /** Whether the socket may still be answered at all (a join checks this first). */
  mayAnswer(socket: S): boolean {
    return this.#answers.left(socket, this.now());
  }

  /** A socket's session; one accepted before this instance was built is adopted from its attachment. */
  #session(socket: S): Session {
    const known = this.members.session(socket);
    if (known) return known;
    const session = this.io.load(socket);
    this.members.restore([[socket, session]]);
    return session;
  }
}

/** An error as one log line: its name and message, never a stack, never a frame's text. */
export function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
