/**
 * What a room feature may use: the one seam between the core (core.ts,
 * which implements it) and the features (features/*.ts, one module per
 * part of the protocol). A feature exports its handlers keyed by frame
 * type, `(ctx, sender, frame) => Answer`, imports this file and the room's
 * state classes, and never the core: no import circle, no reaching into
 * the core's internals, and every feature is driven by the same plain
 * Node tests (test/support/memory-room.ts).
 *
 * Every handler is synchronous (SQLite calls in a Durable Object are), so
 * one frame is handled completely before the next starts. The exceptions
 * await before they decide anything: a join with an identity token
 * (features/join.ts), and an answer whose files need URLs signed
 * (state/file-urls.ts), which then runs again from the top.
 */
import type { Verified } from "../auth/identity";
import type { Limits } from "../shared/limits";
import type { UserNote } from "../user/notes";
import type { Archive } from "./state/archive";
import type { RoomBudgets } from "./state/budgets";
import type { FileUrls } from "./state/file-urls";
import type { RoomFiles } from "./state/files";
import type { HistoryRing } from "./state/history";
import type { Members, Membership } from "./state/members";
import type { Presence } from "./state/presence";
import type { ReadState } from "./state/reads";
import type { Sanction, Sanctions } from "./state/sanctions";
import type { SocketState } from "./state/socket-state";

export interface RoomContext<S> {
  readonly room: string;
  readonly limits: Limits;
  now(): number;
  /** Who is here: sockets, members, their buckets (state/members.ts). */
  readonly members: Members<S>;
  /** The ring and the room's event sequence, loaded on first use. */
  readonly history: HistoryRing;
  /** Paging back, search and retention (§8), over the same store. */
  readonly archive: Archive;
  /** Batched presence for version-3 sockets (§9.2, §9.3). */
  readonly presence: Presence<S>;
  readonly budgets: RoomBudgets;
  /** Bans, mutes and slow mode (§6), in storage. */
  readonly sanctions: Sanctions;
  /** Uploaded files (§11): whose they are, which message carries them, when they go. */
  readonly files: RoomFiles;
  /** Signed URLs for the files an answer carries (§11.3). */
  readonly urls: FileUrls;
  /** Read cursors, remembered users and mentions (§10). */
  readonly reads: ReadState;
  /** Checks an identity token (src/auth/identity.ts); never rejects. */
  identify(token: string): Promise<Verified>;
  /** Compares a reclaim token in constant time. */
  sameToken(given: string, expected: string): boolean;

  /** Sends to an open socket; one that closed meanwhile is skipped. */
  send(socket: S, frame: string): void;
  close(socket: S, code: number, reason: string): void;
  /** One already-serialized frame to every joined socket, except those of `except`; `version`: only to sockets that get that version's frames (§9.1). */
  broadcast(frame: string, except?: Membership<S>, version?: 2 | 3): void;
  /** The version-3 form to sockets that joined with `protocol: 3` (§9.1), the version-2 form to the rest. */
  broadcastByVersion(v2: string, v3: string): void;
  /** Whether the socket may still be sent answers at all (§2.5). */
  mayAnswer(socket: S): boolean;

  /** A new member is here: the others hear `joined`, the directory the count. */
  arrived(membership: Membership<S>): void;
  /** A member is gone: its bucket is remembered, the others hear `left` (and why, if removed). */
  departed(membership: Membership<S>, reason?: "kicked" | "banned"): void;
  /** Removes a member at once: each socket is told `told` and closed with `code`; the others hear `left`. */
  expel(membership: Membership<S>, told: string, code: number, reason: "replaced" | "kicked" | "banned"): void;
  /** A socket holds no name from `since` on (it left): the join timeout counts from then. */
  unjoined(since: number): void;
  /** Deletes files no one may open any more (§11): unattached for an hour, or their message gone. */
  sweepFiles(now: number): void;
  /** Tells a verified user's own object (§10.3); not awaited, and a failure is only logged. */
  tellUser(user: string, note: UserNote): void;
  /** §10.1: a user's cursor moved; other members' version-3 sockets see it in the next presence batch. */
  receipt(who: { name: string; user: string }, seq: number): void;
  /** Makes sure the alarm fires by `at` (a ban or mute that ends then). */
  wantAlarm(at: number): void;

  /** Spends one chat/dm token of the sender's and its address's buckets; false when either is empty. */
  spend(sender: Sender<S>): boolean;
  /** Spends one READS_PER_MINUTE token of the socket's and its address's budgets (§8, §9); false when either is empty. */
  spendRead(sender: Sender<S>): boolean;
  /** The member's mute in force now (§6.2), if any. */
  muteOf(membership: Membership<S>): Sanction | undefined;
  /** The `muted` error (§6.2) when the member is muted now. */
  mutedError(membership: Membership<S>): string | undefined;
}

/** The joined socket a frame came from, and its member. */
export interface Sender<S> {
  socket: S;
  state: SocketState;
  membership: Membership<S>;
}

/** A socket that has not joined (yet): what a join starts from. */
export interface Newcomer<S> {
  socket: S;
  state: SocketState;
}

/** What a handler answers its sender: a frame, or nothing (its answer, if any, was part of a broadcast). */
export type Answer = string | undefined;

/** A promise only while it awaits signatures (state/file-urls.ts); the socket's next frames wait for it. */
export type Handler<S, F> = (ctx: RoomContext<S>, sender: Sender<S>, frame: F) => Answer | Promise<Answer>;
