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
 * needed for "exactly one of 50 racing joins wins". The one exception is a
 * join with an identity token, which awaits the token's check: it touches
 * nothing before the await (joins.ts), and the same socket's next frames
 * wait for it, so that socket still sees its frames handled in order.
 */
import type { Verified } from "../auth/identity";
import type { Limits } from "../shared/limits";
import { nameKeys, normalizeName } from "../shared/names";
import {
  CLOSE_JOIN_TIMEOUT,
  type ClientFrameOf,
  type ModerationFrame,
  PONG_TEXT,
  type PublishResult,
  parseClientFrame,
  type RoomSnapshot,
} from "../shared/protocol";
import { type Rate, spend } from "../shared/rate-limit";
import { encode, encodePresence, errorFrame, person } from "../shared/server-frames";
import { checkText } from "../shared/text";
import { AnswerBudget } from "./answers";
import { type RoomBudgets, refillsBeforeEviction } from "./budgets";
import { Deadlines } from "./deadlines";
import type { HistoryRing } from "./history";
import { Inbox } from "./inbox";
import { Joins } from "./joins";
import { Lifecycle, type Sender } from "./lifecycle";
import { type Holding, Members } from "./members";
import { type Actor, Moderator, type Outcome } from "./moderation";
import type { Sanctions } from "./sanctions";
import { memberId, newSession, PROTOCOL_V3, type Session } from "./session";
import type { AwayStore } from "./stores";

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
  /** Bans, mutes and slow mode (§6), in storage. */
  sanctions: Sanctions;
  /** Members away within their presence grace (§5.4), who have no socket to keep them. */
  away: AwayStore;
  /** Checks an identity token (src/auth/identity.ts); never rejects. */
  identify: (token: string) => Promise<Verified>;
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
  readonly sanctions: Sanctions;
  readonly now: () => number;
  readonly sameToken: (given: string, expected: string) => boolean;
  readonly #history: () => HistoryRing;
  readonly #answers: AnswerBudget<S>;
  readonly #deadlines: Deadlines<S>;
  readonly #joins: Joins<S>;
  readonly #moderator: Moderator<S>;
  readonly #lifecycle: Lifecycle<S>;
  readonly #inbox: Inbox<S>;
  readonly #memberRate: Rate;
  readonly #memberBucketRefillsFirst: boolean;

  /** @param restored the sockets the runtime still holds, with their sessions (a wake-up). */
  constructor(parts: CoreParts<S>, restored: Iterable<readonly [S, Session]> = []) {
    this.room = parts.room;
    this.limits = parts.limits;
    this.io = parts.io;
    this.budgets = parts.budgets;
    this.sanctions = parts.sanctions;
    this.now = parts.now ?? Date.now;
    this.sameToken = parts.sameToken;
    this.#history = parts.history;
    this.#answers = new AnswerBudget(parts.limits.replyBytesPerMinute);
    this.#memberRate = { burst: parts.limits.rateBurst, perSec: parts.limits.ratePerSec };
    this.#memberBucketRefillsFirst = refillsBeforeEviction(this.#memberRate);
    this.members = new Members((socket, session) => parts.io.save(socket, session), parts.away);
    this.members.restore(restored, parts.away.load());
    this.#deadlines = new Deadlines(
      (at) => parts.io.setAlarm(at),
      this.members,
      parts.limits.joinTimeoutMs,
      () => parts.sanctions.nextExpiry(),
    );
    this.#joins = new Joins(this, parts.identify);
    this.#moderator = new Moderator(this);
    this.#lifecycle = new Lifecycle(this);
    this.#inbox = new Inbox(
      (socket, data) => this.#handle(socket, data),
      (socket) => this.members.session(socket) !== undefined,
      (socket) => this.answer(socket, errorFrame("rate_limited", "Wait for the answer to your join.")),
    );
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

  /**
   * Checked before a socket is accepted, so a refused one costs nothing.
   * A room holding MAX_UNJOINED_SOCKETS unjoined sockets makes room instead
   * of refusing (§2.4, version 3): the one that has waited longest is
   * closed, so sockets that never join, from whatever addresses, can never
   * keep a newcomer out; a real client joins within moments of opening.
   */
  admit(address: string): Refusal {
    if (this.members.socketsOf(address) >= this.limits.maxSocketsPerAddress) {
      return { code: "too_many_sockets", message: "Too many connections from your address to this room." };
    }
    while (this.members.unjoined >= this.limits.maxUnjoinedSockets) {
      const oldest = this.members.longestUnjoined();
      if (oldest === undefined) break;
      this.members.close(oldest);
      this.io.close(oldest, CLOSE_JOIN_TIMEOUT, "too_many_unjoined");
    }
    return undefined;
  }

  opened(socket: S, address: string): void {
    const now = this.now();
    this.members.open(socket, newSession(this.limits, address, now));
    this.#deadlines.unjoined(now);
  }

  /**
   * A socket closed or failed. If it was its member's last, the member
   * leaves and the others hear `left`, at once after a clean close (1000,
   * 1001) and otherwise only if they are not back within PRESENCE_GRACE_MS
   * (§5.4): a dropped connection is usually a network change, not a goodbye.
   */
  closed(socket: S, clean: boolean): void {
    // A socket the room no longer knows was already given up (an error and
    // then its close, or the join timeout): nothing is announced twice.
    const grace = this.limits.presenceGraceMs;
    const departure = this.members.close(socket, clean || grace === 0 ? undefined : this.now() + grace);
    if (departure.kind === "left") this.departed(departure.holding);
    else if (departure.kind === "away") this.#deadlines.want(departure.until);
  }

  /** Handles one frame; a promise only while a join waits for its token's check. */
  message(socket: S, data: string | ArrayBuffer): void | Promise<void> {
    return this.#inbox.receive(socket, data);
  }

  /**
   * The alarm: closes every socket that has held no name for JOIN_TIMEOUT_MS,
   * announces every member whose grace ended and every ban or mute that ran
   * out (all also while the room was hibernated: the runtime wakes it for
   * this), forgets refilled budgets, and asks for the next deadline.
   */
  alarm(): void {
    const now = this.now();
    this.#moderator.expired(this.sanctions.expire(now));
    const due = this.#deadlines.due(now);
    for (const socket of due.sockets) {
      this.members.close(socket);
      this.io.close(socket, CLOSE_JOIN_TIMEOUT, "join_timeout");
    }
    for (const holding of due.away) {
      this.members.remove(holding);
      this.departed(holding);
    }
    this.#deadlines.rearm();
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
    if (this.members.holder(claimed.keys)) {
      return { ok: false, code: "name_taken", message: "A user in the room holds that name." };
    }
    const check = checkText(text, this.limits.maxMessageChars);
    if (!check.ok) return check;
    const frame = this.history.append({ room: this.room, name: claimed.name, text, ts: this.now(), bot: true }, null);
    this.broadcast(frame);
    return { ok: true, frame };
  }

  /** A moderation action through the HTTP API (§6.4), which acts as an admin named "system". */
  moderate(frame: ModerationFrame): Outcome {
    return this.#moderate({ name: "system", role: "admin" }, frame);
  }

  /** Bans, mutes and slow mode in force (GET /api/rooms/:room/moderation). */
  moderation(): ModerationState {
    const now = this.now();
    const entry = (s: { name: string; user?: string; until: number | null }) => ({
      ...person(s),
      until: s.until,
    });
    return {
      bans: this.sanctions.list("ban", now).map(entry),
      mutes: this.sanctions.list("mute", now).map(entry),
      slowmode: this.sanctions.slowmode,
    };
  }

  #moderate(actor: Actor<S>, frame: ModerationFrame): Outcome {
    const outcome = this.#moderator.act(actor, frame);
    // A timed ban or mute must end from the alarm, with nobody around.
    const next = this.sanctions.nextExpiry();
    if (outcome.ok && next !== undefined) this.#deadlines.want(next);
    return outcome;
  }

  // -------------------------------------------------------------------------
  // Frames. Each handler returns the answer its sender gets (a welcome, an
  // error, a pong), or undefined when the sender's answer, if any, is part
  // of a broadcast.
  // -------------------------------------------------------------------------

  /** Runs one frame's handler and sends its answer; returns the promise of an awaiting join. */
  #handle(socket: S, data: string | ArrayBuffer): Promise<void> | undefined {
    try {
      const reply = this.#dispatch(socket, data);
      if (typeof reply === "string") this.answer(socket, reply);
      else if (reply !== undefined) {
        return reply.then(
          (answer) => {
            if (answer !== undefined) this.answer(socket, answer);
          },
          (err: unknown) => this.#failed(socket, err),
        );
      }
    } catch (err) {
      this.#failed(socket, err);
    }
    return undefined;
  }

  #failed(socket: S, err: unknown): void {
    // Never a stack to the client, and never the frame's text in the log.
    console.error(`room ${this.room}: frame handler failed:`, errorName(err));
    this.answer(socket, errorFrame("internal_error"));
  }

  #dispatch(socket: S, data: string | ArrayBuffer): string | undefined | Promise<string | undefined> {
    const parsed = parseClientFrame(data, this.limits.maxFrameBytes);
    if (!parsed.ok) return errorFrame(parsed.code, parsed.message);
    const session = this.#session(socket);
    const frame = parsed.frame;
    if (frame.type === "ping") return PONG_TEXT;
    if (frame.type === "join") return this.#joins.join(socket, session, frame);
    // Everything else needs a name.
    const holding = this.members.of(socket);
    if (!holding) return errorFrame("not_joined");
    switch (frame.type) {
      case "chat":
        return this.#chat(socket, session, holding, frame);
      case "dm":
        return this.#dm(socket, session, holding, frame);
      case "typing": {
        const muted = this.#mutedError(holding);
        if (muted) return muted;
        // One relayed per member per TYPING_INTERVAL_MS; the rest are dropped
        // silently (the next keystroke sends another). Not to the typist's
        // own sockets: their other tabs know.
        if (this.budgets.typing(memberId(holding.member), this.now())) {
          this.broadcast(encode({ type: "typing", room: this.room, ...person(holding.member) }), holding);
        }
        return undefined;
      }
      case "leave":
        this.#leave(socket, session);
        return undefined;
      case "edit":
        return this.#lifecycle.edit(this.#sender(socket, session, holding), frame.seq, frame.text);
      case "delete":
        return this.#lifecycle.delete(this.#sender(socket, session, holding), frame.seq);
      case "react":
        return this.#lifecycle.react(this.#sender(socket, session, holding), frame.seq, frame.emoji);
      default: {
        // kick, ban, unban, mute, unmute, slowmode (§6.2)
        const { name, role = "member" } = holding.member;
        const outcome = this.#moderate({ name, role, holding }, frame);
        return outcome.ok ? undefined : errorFrame(outcome.code, outcome.message);
      }
    }
  }

  #chat(socket: S, session: Session, holding: Holding<S>, frame: ClientFrameOf<"chat">): string | undefined {
    const check = checkText(frame.text, this.limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const history = this.history;
    const { member } = holding;
    const author = memberId(member);
    if (frame.id !== undefined) {
      // A retry of a message already stored: the sender alone gets the
      // original again, and it costs no rate token.
      const original = history.findByClientId(author, frame.id);
      if (original !== undefined) return original;
    }
    if (frame.replyTo !== undefined) {
      const target = history.get(frame.replyTo);
      if (!target || target.deleted) return errorFrame("not_found", "The message this one answers is not in the room.");
    }
    const muted = this.#mutedError(holding);
    if (muted) return muted;
    const now = this.now();
    // Slow mode holds members and guests, never moderators and admins; a
    // guest also by address, so a new name does not start a new wait.
    const slowmode = this.sanctions.slowmode;
    const slowKeys =
      slowmode > 0 && (member.role ?? "member") === "member"
        ? member.user === undefined
          ? [author, `address:${holding.address}`]
          : [author]
        : [];
    const wait = slowKeys.length > 0 ? this.budgets.slowWait(slowKeys, slowmode, now) : 0;
    if (wait > 0) return errorFrame("slow_mode", undefined, { retry_after: wait });
    if (!this.#spend(socket, session, holding)) return errorFrame("rate_limited");
    if (slowKeys.length > 0) this.budgets.slowSpent(slowKeys, slowmode, now);
    // Storage first, then the broadcast: the output gate holds these sends
    // until the write is durable, so no client ever sees a message that a
    // crash could take back.
    const stored = history.append(
      {
        room: this.room,
        name: member.name,
        user: member.user,
        text: frame.text,
        ts: now,
        id: frame.id,
        replyTo: frame.replyTo,
      },
      author,
    );
    this.broadcast(stored);
    return undefined;
  }

  #dm(socket: S, session: Session, holding: Holding<S>, frame: ClientFrameOf<"dm">): string | undefined {
    const check = checkText(frame.text, this.limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const target = this.members.holder(nameKeys(frame.to.trim()));
    if (!target) return errorFrame("no_such_user");
    const muted = this.#mutedError(holding);
    if (muted) return muted;
    if (!this.#spend(socket, session, holding)) return errorFrame("rate_limited");
    const { name: from, user } = holding.member;
    const dm = encode({
      type: "dm",
      from,
      ...(user === undefined ? {} : { user }),
      to: target.member.name,
      text: frame.text,
      ts: this.now(),
    });
    // Every socket of the target (§5.3); the echo is the sender's answer, so
    // a dm to oneself arrives once on each socket. A target who is away
    // within their grace has no socket: a dm is not stored, so it is lost
    // as it would be on a dying connection.
    for (const to of target.sockets) if (to !== socket) this.io.send(to, dm);
    return dm;
  }

  #leave(socket: S, session: Session): void {
    const now = this.now();
    // The socket may stay open unjoined; the join timeout counts from now.
    session.idleSince = now;
    const departure = this.members.leave(socket);
    if (departure.kind === "left") this.departed(departure.holding);
    this.#deadlines.unjoined(now);
  }

  /**
   * Removes a member at once, whatever their sockets: a guest whose name a
   * verified user claims (§5.2), someone kicked or banned (§6.2). Each
   * socket is told why and closed; the others hear `left`.
   */
  expel(holding: Holding<S>, told: string, code: number, reason: "replaced" | "kicked" | "banned"): void {
    for (const socket of this.members.remove(holding)) {
      this.io.send(socket, told);
      this.io.close(socket, code, reason);
    }
    this.departed(holding, reason === "replaced" ? undefined : reason);
  }

  /** A member is gone from the room: its bucket is remembered, the others hear `left` (and why, if removed). */
  departed(holding: Holding<S>, reason?: "kicked" | "banned"): void {
    const now = this.now();
    this.budgets.remember(memberId(holding.member), holding.bucket, now);
    this.broadcast(encodePresence("left", this.room, holding.member, this.members.size, now, reason));
    this.io.reportCount(this.members.size);
  }

  /** The sender of a lifecycle frame (§7), as lifecycle.ts needs it. */
  #sender(socket: S, session: Session, holding: Holding<S>): Sender<S> {
    return {
      socket,
      holding,
      spend: () => this.#spend(socket, session, holding),
      muted: () => this.#mutedError(holding),
    };
  }

  /** The `muted` error (§6.2) when the member is muted now. */
  #mutedError(holding: Holding<S>): string | undefined {
    const { key, user } = holding.member;
    const who = user === undefined ? { key, address: holding.address } : { user };
    const mute = this.sanctions.holding("mute", who, this.now());
    return mute ? errorFrame("muted", undefined, { until: mute.until }) : undefined;
  }

  /**
   * Spends one chat/dm token from the member's bucket (shared by all its
   * sockets) and one from the address's shared bucket; refuses if either is
   * empty (and then spends neither, so a refused frame does not delay the
   * next one).
   */
  #spend(socket: S, session: Session, holding: Holding<S>): boolean {
    const now = this.now();
    const bucket = spend(holding.bucket, this.#memberRate, now);
    if (!bucket || !this.budgets.post(session.address, now)) return false;
    // A bucket that could still be refilling when the object is evicted is
    // written to the attachment on every spend, or it would wake up full.
    // With the default limits (10 tokens, 5/s: full in 2 s) it never is,
    // and the write per chat is skipped (src/room/budgets.ts).
    this.members.spent(socket, holding, bucket, !this.#memberBucketRefillsFirst);
    return true;
  }

  // -------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------

  /** Sends one already-serialized frame to every joined socket, except those of `except`. */
  broadcast(frame: string, except?: Holding<S>): void {
    const skip = except?.sockets;
    for (const socket of this.members.joinedSockets()) {
      if (!skip?.includes(socket)) this.io.send(socket, frame);
    }
  }

  /**
   * Sends one of two already-serialized frames to every joined socket: the
   * version-3 form to sockets that joined with `protocol: 3` (§9.1), the
   * version-2 form to the rest. Each form is serialized once, by the caller.
   */
  broadcastByVersion(v2: string, v3: string): void {
    for (const socket of this.members.joinedSockets()) {
      const version = this.members.session(socket)?.protocol ?? 2;
      this.io.send(socket, version >= PROTOCOL_V3 ? v3 : v2);
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

/** GET /api/rooms/:room/moderation (§6.4). */
export interface ModerationState {
  bans: Array<{ name: string; user?: string; until: number | null }>;
  mutes: Array<{ name: string; user?: string; until: number | null }>;
  slowmode: number;
}

/** An error as one log line: its name and message, never a stack, never a frame's text. */
export function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
