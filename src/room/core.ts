/**
 * The room's core, apart from the Durable Object runtime: the dispatch of
 * each frame to its feature (features/*.ts), the sockets' comings and
 * goings, the alarm, and the output. It is the RoomContext the features
 * receive (context.ts); it talks to sockets only through RoomIO, so Node
 * tests drive it with plain objects as sockets and in-memory stores. The
 * runtime shell (chat-room.ts) owns the sockets, attachments, alarm and
 * storage.
 *
 * A frame's way: the shell's webSocketMessage → message() here → the
 * handler for its type → broadcast() or the sender's answer.
 */
import type { Verified } from "../auth/identity";
import type { Limits } from "../shared/limits";
import { CLOSE_JOIN_TIMEOUT, PONG_TEXT, parseClientFrame } from "../shared/protocol";
import { fullBucket, type Rate, spend } from "../shared/rate-limit";
import { encodePresence, errorFrame } from "../shared/server-frames";
import type { UserNote } from "../user/notes";
import type { Answer, RoomContext, Sender } from "./context";
import { dispatch, handlers } from "./dispatch";
import { join } from "./features/join";
import { expired } from "./features/moderation";
import { GroupCommit } from "./group-commit";
import { Inbox } from "./inbox";
import { type CoreParts, errorName, type Refusal, type RoomIO } from "./io";
import { ReplyBudget } from "./reply-budget";
import { Archive, sweepAt } from "./state/archive";
import { type RoomBudgets, refillsBeforeEviction } from "./state/budgets";
import { Deadlines } from "./state/deadlines";
import { FileUrls } from "./state/file-urls";
import { RoomFiles } from "./state/files";
import { HistoryRing } from "./state/history";
import { Members, type Membership } from "./state/members";
import { Presence } from "./state/presence";
import { ReadState } from "./state/reads";
import type { Sanction, Sanctions } from "./state/sanctions";
import { memberId, newSocketState, type SocketState } from "./state/socket-state";
import type { MessageStore } from "./storage/stores";

export class ChatCore<S extends object> implements RoomContext<S> {
  readonly room: string;
  readonly limits: Limits;
  readonly members: Members<S>;
  readonly budgets: RoomBudgets;
  readonly sanctions: Sanctions;
  readonly now: () => number;
  readonly identify: (token: string) => Promise<Verified>;
  readonly sameToken: (given: string, expected: string) => boolean;
  readonly #io: RoomIO<S>;
  readonly archive: Archive;
  readonly files: RoomFiles;
  readonly urls: FileUrls;
  readonly reads: ReadState;
  #history: HistoryRing | undefined;
  readonly #loadHistory: () => HistoryRing;
  #presence: Presence<S> | undefined;
  readonly #loadPresence: () => Presence<S>;
  readonly #replies: ReplyBudget<S>;
  readonly #messages: MessageStore;
  readonly #deadlines: Deadlines<S>;
  readonly #inbox: Inbox<S>;
  readonly #batches: GroupCommit<S>;
  readonly #handlers = handlers<S>();
  readonly #memberRate: Rate;
  readonly #memberBucketRefillsFirst: boolean;

  /** @param restored the sockets the runtime still holds, with their states (a wake-up). */
  constructor(parts: CoreParts<S>, restored: Iterable<readonly [S, SocketState]> = []) {
    this.room = parts.room;
    this.limits = parts.limits;
    this.#io = parts.io;
    this.budgets = parts.budgets;
    this.sanctions = parts.sanctions;
    this.now = parts.now ?? Date.now;
    this.identify = parts.identify;
    this.sameToken = parts.sameToken;
    const retentionMs = parts.limits.historyRetentionMs;
    this.#loadHistory = () =>
      new HistoryRing(parts.messages, {
        limit: parts.limits.historyLimit,
        retentionMs,
        now: this.now,
        // Every stored message must be swept one day, also in a room nobody
        // visits again: the alarm is set for it (a write only when it moves earlier).
        stored: retentionMs > 0 ? (ts) => this.#deadlines.want(sweepAt(ts, retentionMs)) : undefined,
      });
    this.archive = new Archive(parts.messages, () => this.history, retentionMs, this.now);
    this.#messages = parts.messages;
    this.files = new RoomFiles(parts.files, parts.room, (keys) => parts.io.forgetFiles(keys));
    this.urls = new FileUrls(parts.room, parts.signer, this.now);
    this.reads = new ReadState(parts.reads);
    this.#replies = new ReplyBudget(parts.limits.replyBytesPerMinute);
    this.#memberRate = { burst: parts.limits.rateBurst, perSec: parts.limits.ratePerSec };
    this.#memberBucketRefillsFirst = refillsBeforeEviction(this.#memberRate);
    this.members = new Members((socket, state) => parts.io.save(socket, state), parts.away);
    this.members.restore(restored, parts.away.load());
    this.#loadPresence = () =>
      new Presence(parts.room, parts.presence, this.members, parts.limits, (socket, frame) =>
        parts.io.send(socket, frame),
      );
    const { joinTimeoutMs } = parts.limits;
    this.#deadlines = new Deadlines(
      (at) => parts.io.setAlarm(at),
      this.members,
      joinTimeoutMs,
      () =>
        [parts.sanctions.nextExpiry(), this.archive.nextSweep(), this.presence.next(), this.files.next()].reduce(
          earliest,
          undefined,
        ),
    );
    this.#inbox = new Inbox(
      (socket, data) => this.#handle(socket, data),
      (socket) => this.members.stateOf(socket) !== undefined,
      (socket) => this.#answer(socket, errorFrame("rate_limited", "Wait for the answer to your join.")),
    );
    this.#batches = new GroupCommit(
      (socket, data) => this.#inbox.receive(socket, data),
      () => this.#io.committed?.(),
      this.now,
    );
    // The directory may hold a stale count for this room (sockets that a
    // restart cut without close events); a wake-up corrects it. A room
    // nobody ever joined cannot be listed, so it stays silent: reads of
    // made-up room names must not turn into calls on the one directory.
    if (this.members.size > 0 || this.budgets.anyoneJoined()) this.#io.reportCount(this.members.size);
  }

  get history(): HistoryRing {
    this.#history ??= this.#loadHistory();
    return this.#history;
  }

  /** Batched presence (§9.2); its journal is read on first use, as most wake-ups change no one's presence. */
  get presence(): Presence<S> {
    this.#presence ??= this.#loadPresence();
    return this.#presence;
  }

  // --- Sockets --------------------------------------------------------------

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
      this.#io.close(oldest, CLOSE_JOIN_TIMEOUT, "too_many_unjoined");
    }
    return undefined;
  }

  opened(socket: S, address: string): void {
    const now = this.now();
    this.members.open(socket, newSocketState(this.limits, address, now));
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
    if (departure.kind === "left") this.departed(departure.membership);
    else if (departure.kind === "away") this.#deadlines.want(departure.until);
  }

  /**
   * Handles one frame, or queues it for the next batch while a commit is in
   * flight (group-commit.ts); a promise while it waits there or while a
   * join waits for its token's check, which the runtime keeps the event open for.
   */
  message(socket: S, data: string | ArrayBuffer): void | Promise<void> {
    return this.#batches.receive(socket, data);
  }

  /**
   * The alarm: closes every socket that has held no name for JOIN_TIMEOUT_MS,
   * announces every member whose grace ended and every ban or mute that ran
   * out (all also while the room was hibernated: the runtime wakes it for
   * this), deletes expired messages (§8.1), forgets refilled budgets, and
   * asks for the next deadline.
   */
  /** @returns how many expired messages it deleted */
  alarm(): number {
    const now = this.now();
    expired(this, this.sanctions.expire(now));
    const due = this.#deadlines.due(now);
    for (const socket of due.sockets) {
      this.members.close(socket);
      this.#io.close(socket, CLOSE_JOIN_TIMEOUT, "join_timeout");
    }
    for (const membership of due.away) {
      this.members.remove(membership);
      this.departed(membership);
    }
    const swept = this.archive.sweep(now);
    this.sweepFiles(now);
    this.#sweepReads(now);
    this.presence.settle(now);
    this.#deadlines.rearm();
    this.budgets.prune(now);
    return swept;
  }

  /**
   * Deletes the files no one may open any more (§11.1, §11.3): unattached
   * for an hour, or carried by messages no longer stored. The alarm calls
   * it; so does a ring-only room's chat, whose ring just dropped one.
   */
  sweepFiles(now: number): void {
    this.files.sweep(now, () => this.#messages.oldestSeq() ?? this.history.latestSeq + 1);
  }

  /**
   * §10.2: users who have not joined within retention are forgotten, and
   * mentions of messages no longer stored go (the counts skip them anyway).
   */
  #sweepReads(now: number): void {
    const retentionMs = this.limits.historyRetentionMs;
    if (retentionMs > 0) this.reads.forgetBefore(now - retentionMs);
    this.reads.dropMentionsBelow(this.#messages.oldestSeq() ?? this.history.latestSeq + 1);
  }

  // --- Frames ---------------------------------------------------------------

  /** Runs one frame's handler and sends its answer; returns the promise of an awaiting join. */
  #handle(socket: S, data: string | ArrayBuffer): Promise<void> | undefined {
    try {
      const reply = this.#dispatch(socket, data);
      if (typeof reply === "string") this.#answer(socket, reply);
      else if (reply !== undefined) {
        return reply.then(
          (answer) => {
            if (answer !== undefined) this.#answer(socket, answer);
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
    this.#answer(socket, errorFrame("internal_error"));
  }

  #dispatch(socket: S, data: string | ArrayBuffer): Answer | Promise<Answer> {
    const parsed = parseClientFrame(data, this.limits.maxFrameBytes);
    if (!parsed.ok) return errorFrame(parsed.code, parsed.message);
    const state = this.#state(socket);
    const frame = parsed.frame;
    if (frame.type === "ping") return PONG_TEXT;
    if (frame.type === "join") return join(this, { socket, state }, frame);
    // Everything else needs a name.
    const membership = this.members.of(socket);
    if (!membership) return errorFrame("not_joined");
    return dispatch(this.#handlers, this, { socket, state, membership }, frame);
  }

  /** A socket's state; one accepted before this instance was built is adopted from its attachment. */
  #state(socket: S): SocketState {
    const known = this.members.stateOf(socket);
    if (known) return known;
    const state = this.#io.load(socket);
    this.members.restore([[socket, state]]);
    return state;
  }

  // --- What features may do (RoomContext) ----------------------------------

  arrived(membership: Membership<S>): void {
    const now = this.now();
    const frame = encodePresence("joined", this.room, membership.member, this.members.size, now);
    this.broadcast(frame, membership, 2);
    this.#changed("joined", membership, now);
  }

  departed(membership: Membership<S>, reason?: "kicked" | "banned"): void {
    const now = this.now();
    this.budgets.remember(memberId(membership.member), membership.bucket, now);
    this.broadcast(encodePresence("left", this.room, membership.member, this.members.size, now, reason), undefined, 2);
    this.#changed("left", membership, now, reason);
  }

  /**
   * Version-3 sockets hear of a change in a batch (§9.2): at once if none
   * went out for an interval, else when the alarm says (state/presence.ts).
   */
  #changed(kind: "joined" | "left", membership: Membership<S>, now: number, reason?: "kicked" | "banned"): void {
    this.presence.record(kind, membership.member, now, reason);
    const later = this.presence.settle(now);
    if (later !== undefined) this.#deadlines.want(later);
    this.#io.reportCount(this.members.size);
  }

  expel(membership: Membership<S>, told: string, code: number, reason: "replaced" | "kicked" | "banned"): void {
    for (const socket of this.members.remove(membership)) {
      this.#io.send(socket, told);
      this.#io.close(socket, code, reason);
    }
    this.departed(membership, reason === "replaced" ? undefined : reason);
  }

  tellUser(user: string, note: UserNote): void {
    this.#io.tellUser(user, note);
  }

  receipt(who: { name: string; user: string }, seq: number): void {
    const now = this.now();
    this.presence.read(who, seq, now);
    const later = this.presence.settle(now);
    if (later !== undefined) this.#deadlines.want(later);
  }

  unjoined(since: number): void {
    this.#deadlines.unjoined(since);
  }

  wantAlarm(at: number): void {
    this.#deadlines.want(at);
  }

  spendRead(sender: Sender<S>): boolean {
    const now = this.now();
    const perMinute = this.limits.readsPerMinute;
    const rate = { burst: perMinute, perSec: perMinute / 60 };
    const bucket = spend(sender.state.reads ?? fullBucket(perMinute, now), rate, now);
    if (!bucket || !this.budgets.read(sender.state.address, now)) return false;
    // A minute's budget outlives an eviction: the attachment keeps it.
    sender.state.reads = bucket;
    this.members.save(sender.socket);
    return true;
  }

  muteOf(membership: Membership<S>): Sanction | undefined {
    const { key, user } = membership.member;
    const who = user === undefined ? { key, address: membership.address } : { user };
    return this.sanctions.inForce("mute", who, this.now());
  }

  mutedError(membership: Membership<S>): string | undefined {
    const mute = this.muteOf(membership);
    return mute ? errorFrame("muted", undefined, { until: mute.until }) : undefined;
  }

  /**
   * Spends one chat/dm token from the member's bucket (shared by all its
   * sockets) and one from the address's shared bucket; refuses if either is
   * empty (and then spends neither, so a refused frame does not delay the
   * next one).
   */
  spend(sender: Sender<S>): boolean {
    const now = this.now();
    const bucket = spend(sender.membership.bucket, this.#memberRate, now);
    if (!bucket || !this.budgets.post(sender.state.address, now)) return false;
    // A bucket that could still be refilling when the object is evicted is
    // written to the attachment on every spend, or it would wake up full.
    // With the default limits (10 tokens, 5/s: full in 2 s) it never is,
    // and the write per chat is skipped (state/budgets.ts).
    this.members.spent(sender.socket, sender.membership, bucket, !this.#memberBucketRefillsFirst);
    return true;
  }

  // --- Output ----------------------------------------------------------------

  send(socket: S, frame: string): void {
    this.#io.send(socket, frame);
  }

  close(socket: S, code: number, reason: string): void {
    this.#io.close(socket, code, reason);
  }

  broadcast(frame: string, except?: Membership<S>, version?: 2 | 3): void {
    if (version !== 3) this.#sendAll(this.members.joinedOf(2), frame, except);
    if (version !== 2) this.#sendAll(this.members.joinedOf(3), frame, except);
  }

  #sendAll(sockets: ReadonlySet<S>, frame: string, except: Membership<S> | undefined): void {
    const skip = except?.sockets;
    for (const socket of sockets) {
      if (!skip?.includes(socket)) this.#io.send(socket, frame);
    }
  }

  broadcastByVersion(v2: string, v3: string): void {
    this.broadcast(v2, undefined, 2);
    this.broadcast(v3, undefined, 3);
  }

  mayAnswer(socket: S): boolean {
    return this.#replies.canReply(socket, this.now());
  }

  /** Sends the answer to a socket's own frame, within its byte budget (§2.5). */
  #answer(socket: S, frame: string): void {
    if (this.#replies.spend(socket, frame, this.now())) this.#io.send(socket, frame);
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
