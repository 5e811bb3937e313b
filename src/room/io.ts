/**
 * The room core's side of the runtime: what it needs from the Durable
 * Object shell (chat-room.ts implements RoomIO over real sockets; the Node
 * tests over plain objects), and what it is built from.
 */
import type { Verified } from "../auth/identity";
import type { UrlSigner } from "../files/signing";
import type { Limits } from "../shared/limits";
import type { UserNote } from "../user/notes";
import type { RoomBudgets } from "./state/budgets";
import type { Sanctions } from "./state/sanctions";
import type { SocketState } from "./state/socket-state";
import type { AwayStore, FileStore, MessageStore, PresenceStore, ReadStore } from "./storage/stores";

/** What the core needs from the runtime. */
export interface RoomIO<S> {
  /** Sends to an open socket; one that closed meanwhile is skipped. */
  send(socket: S, frame: string): void;
  close(socket: S, code: number, reason: string): void;
  /** Writes a socket's state where hibernation keeps it (the attachment). */
  save(socket: S, state: SocketState): void;
  /** Reads it back, for a socket this instance has not seen (accepted before a rebuild). */
  load(socket: S): SocketState;
  setAlarm(at: number): void;
  /** The room's joined-user count changed (or may be stale): tell the directory. */
  reportCount(users: number): void;
  /** Deletes objects from the FILES bucket (§11); not awaited, and a failure is only logged. */
  forgetFiles(keys: string[]): void;
  /** Tells a verified user's own object (§10.3); not awaited, and a failure is only logged. */
  tellUser(user: string, note: UserNote): void;
  /** The commit of every write made so far (group-commit.ts); absent where writes are immediate. */
  committed?(): Promise<void>;
}

export interface CoreParts<S> {
  room: string;
  limits: Limits;
  io: RoomIO<S>;
  /** The room's messages; the ring over them is loaded on first use, as most wake-ups (a close, a typing frame) never need it. */
  messages: MessageStore;
  budgets: RoomBudgets;
  sanctions: Sanctions;
  /** Members away within their presence grace (§5.4), who have no socket to keep them. */
  away: AwayStore;
  /** The roster changes a pending presence batch will carry (§9.2). */
  presence: PresenceStore;
  /** Uploaded files (§11). */
  files: FileStore;
  /** Read cursors, remembered users and mentions (§10). */
  reads: ReadStore;
  /** Signs file URLs; absent when uploads are off (no FILES_SECRET). */
  signer?: UrlSigner;
  identify: (token: string) => Promise<Verified>;
  /** The runtime's constant-time comparison (Node's in tests). */
  sameToken: (given: string, expected: string) => boolean;
  now?: () => number;
}

/** Why an upgrade is refused before the socket is accepted (§2.4). */
export type Refusal = { code: "too_many_sockets"; message: string } | undefined;

/** An error as one log line: its name and message, never a stack, never a frame's text. */
export function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
