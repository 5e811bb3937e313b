/**
 * The connection's outbox (connection.ts): chats, edits, deletes and
 * reactions waiting to be confirmed by the room, one in flight at a time,
 * so an `error` frame always belongs to the entry in flight and a resend
 * after a reconnect is deduplicated by the room (a chat's `id`, §2.2).
 */
import type { ClientFrame } from "../shared/protocol";
import type { ChatFrame, ServerFrameOf } from "../shared/server-frames";
import type { ErrorFrame, Pending } from "./connection-types";

export const OUTBOX_LIMIT = 50;

export class Outbox {
  #entries: Pending[] = [];
  /** The head has been sent on the current socket. */
  inFlight = false;
  /** The head has been sent on some socket (maybe one that died since). */
  headSent = false;
  readonly #changed: (entries: readonly Pending[]) => void;

  constructor(changed: (entries: readonly Pending[]) => void) {
    this.#changed = changed;
  }

  get head(): Pending | undefined {
    return this.#entries[0];
  }

  /** Queues an entry; false when the outbox is full. */
  push(pending: Pending): boolean {
    if (this.#entries.length >= OUTBOX_LIMIT) return false;
    this.#entries.push(pending);
    this.#changed(this.#entries);
    return true;
  }

  /** Removes the entry this chat (from `name`) confirms, if any. True when it was the head. */
  settle(chat: ChatFrame, name: string): boolean {
    if (chat.id === undefined || chat.name !== name) return false;
    const i = this.#entries.findIndex((p) => p.kind === "chat" && p.id === chat.id);
    if (i < 0) return false;
    if (i === 0) this.headSent = false;
    this.#entries.splice(i, 1);
    this.#changed(this.#entries);
    return i === 0;
  }

  /** Whether an update is the room's answer to the change in flight. */
  confirms(update: ServerFrameOf<"update">): boolean {
    const head = this.#entries[0];
    if (!this.inFlight || !head || head.kind === "chat" || head.seq !== update.target) return false;
    if (head.kind === "edit") return update.text === head.text;
    if (head.kind === "delete") return update.deleted === true;
    return update.reactions !== undefined || update.reaction !== undefined;
  }

  /** Drops the head: confirmed, refused for good, or not to be sent again. */
  shift(): void {
    this.#entries.shift();
    this.headSent = false;
    this.#changed(this.#entries);
  }

  /**
   * The room refused the entry in flight. A retryable refusal keeps it
   * queued to go again after `retryAfterMs` (a token has refilled, the slow
   * mode interval has passed, or the fault is over; its id, or for an edit
   * or delete the change itself, makes the resend safe). Anything else
   * (too_long, not_found, forbidden, …) drops it: resending cannot help.
   */
  refused(error: ErrorFrame): { during: Pending["kind"] | "other"; retryAfterMs?: number } {
    this.inFlight = false;
    const head = this.#entries[0];
    const during = head?.kind ?? "other";
    const retryable = error.code === "rate_limited" || error.code === "internal_error" || error.code === "slow_mode";
    // A reaction is a toggle: sent twice it undoes itself, so it is never resent.
    if (retryable && head?.kind !== "react") return { during, retryAfterMs: error.retry_after ?? 1000 };
    this.shift();
    return { during };
  }

  /** The frame the head goes out as, if there is one to send now. */
  next(): ClientFrame | undefined {
    const head = this.#entries[0];
    return head && !this.inFlight ? frameOf(head) : undefined;
  }

  /** The head went out on the current socket. */
  sent(): void {
    this.inFlight = true;
    this.headSent = true;
  }
}

/** The frame a pending entry is sent as. */
function frameOf(p: Pending): ClientFrame {
  switch (p.kind) {
    case "chat":
      return {
        type: "chat",
        text: p.text,
        id: p.id,
        ...(p.replyTo === undefined ? {} : { replyTo: p.replyTo }),
        ...(p.files === undefined ? {} : { files: p.files }),
      };
    case "edit":
      return { type: "edit", seq: p.seq, text: p.text };
    case "delete":
      return { type: "delete", seq: p.seq };
    case "react":
      return { type: "react", seq: p.seq, emoji: p.emoji };
  }
}
