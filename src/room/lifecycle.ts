/**
 * The message lifecycle (protocol §7): edit, delete and react on a stored
 * message. Each change takes the room's next seq (history.ts stores it, one
 * row), and everyone gets one `update` frame, serialized once. Authorship
 * is the member id (session.ts): a verified user's `sub`, a guest's name
 * while they hold it.
 */
import { MAX_REACTION_EMOJI, MAX_REACTIONS_PER_MESSAGE } from "../shared/protocol";
import { encodeUpdate, errorFrame, person } from "../shared/server-frames";
import { checkText } from "../shared/text";
import type { ChatCore } from "./core";
import type { Message } from "./history";
import type { Holding } from "./members";
import { memberId } from "./session";

/** What a lifecycle frame needs from the room: spending from the sender's budgets, and whether they are muted. */
export interface Sender<S> {
  socket: S;
  holding: Holding<S>;
  /** Spends one rate token (member and address); false when either is empty. */
  spend(): boolean;
  /** The `muted` error if the sender is muted now. */
  muted(): string | undefined;
}

export class Lifecycle<S extends object> {
  readonly #core: ChatCore<S>;

  constructor(core: ChatCore<S>) {
    this.#core = core;
  }

  /** Checks, in order: bad_message/too_long, not_found, forbidden (not the author), muted, rate_limited. */
  edit(sender: Sender<S>, seq: number, text: string): string | undefined {
    const check = checkText(text, this.#core.limits.maxMessageChars);
    if (!check.ok) return errorFrame(check.code, check.message);
    const message = this.#live(seq);
    if (!message) return notFound();
    if (message.author !== memberId(sender.holding.member)) {
      return errorFrame("forbidden", "Only its author may edit a message.");
    }
    const refusal = sender.muted() ?? (sender.spend() ? undefined : errorFrame("rate_limited"));
    if (refusal) return refusal;
    const now = this.#core.now();
    const change = this.#core.history.change(seq, (m) => {
      m.text = text;
      m.edited = now;
    });
    this.#broadcast({ ...change, target: seq, text, edited: now });
    return undefined;
  }

  /**
   * Checks, in order: not_found, forbidden (neither the author nor a
   * moderator or admin), rate_limited. A muted author may still take their
   * own message back.
   */
  delete(sender: Sender<S>, seq: number): string | undefined {
    const message = this.#live(seq);
    if (!message) return notFound();
    const { member } = sender.holding;
    const staff = member.role === "moderator" || member.role === "admin";
    if (message.author !== memberId(member) && !staff) {
      return errorFrame("forbidden", "Only its author or a moderator may delete a message.");
    }
    if (!sender.spend()) return errorFrame("rate_limited");
    // A tombstone, nothing more: the text, reactions and reply are gone from storage.
    const change = this.#core.history.change(seq, (m, reactors) => {
      m.text = "";
      m.deleted = true;
      delete m.edited;
      delete m.replyTo;
      reactors.clear();
    });
    this.#broadcast({ ...change, target: seq, deleted: true });
    return undefined;
  }

  /** Toggles the sender's reaction. Checks, in order: not_found, muted, too_many_reactions, rate_limited. */
  react(sender: Sender<S>, seq: number, emoji: string): string | undefined {
    const message = this.#live(seq);
    if (!message) return notFound();
    const muted = sender.muted();
    if (muted) return muted;
    const { member } = sender.holding;
    const id = memberId(member);
    const mine = message.reactors.get(emoji)?.some(([who]) => who === id) ?? false;
    if (!mine && !message.reactors.has(emoji) && message.reactors.size >= MAX_REACTION_EMOJI) {
      return errorFrame("too_many_reactions", `A message holds at most ${MAX_REACTION_EMOJI} different reactions.`);
    }
    if (!mine && reactionCount(message.reactors) >= MAX_REACTIONS_PER_MESSAGE) {
      return errorFrame("too_many_reactions", `A message holds at most ${MAX_REACTIONS_PER_MESSAGE} reactions.`);
    }
    if (!sender.spend()) return errorFrame("rate_limited");
    const name = member.name;
    let count = 0;
    const change = this.#core.history.change(seq, (_m, reactors) => {
      const who = reactors.get(emoji) ?? [];
      const next = mine ? who.filter(([w]) => w !== id) : [...who, [id, name] as [string, string]];
      count = next.length;
      if (next.length > 0) reactors.set(emoji, next);
      else reactors.delete(emoji);
    });
    // §7.3: version-2 sockets get the whole (bounded) summary, version-3
    // sockets only the one change, so a 68-byte `react` never costs every
    // member the message's whole reaction list.
    const core = this.#core;
    const update = { room: core.room, seq: change.seq, v: change.seq, target: seq };
    core.broadcastByVersion(
      encodeUpdate({ ...update, reactions: change.message.reactions ?? {} }),
      encodeUpdate({ ...update, reaction: { emoji, ...person(member), added: !mine, count } }),
    );
    return undefined;
  }

  /** A message in the ring that is not deleted. */
  #live(seq: number): Message | undefined {
    const message = this.#core.history.get(seq);
    return message && !message.deleted ? message : undefined;
  }

  /** One update frame for everyone, serialized once (encodeUpdate writes only the fields given). */
  #broadcast(update: Omit<Parameters<typeof encodeUpdate>[0], "room" | "v">): void {
    this.#core.broadcast(encodeUpdate({ ...update, room: this.#core.room, v: update.seq }));
  }
}

/** Reactions on a message, all emoji together (at most 20 arrays). */
function reactionCount(reactors: Message["reactors"]): number {
  let n = 0;
  for (const who of reactors.values()) n += who.length;
  return n;
}

function notFound(): string {
  return errorFrame("not_found", "No such message in this room (it may have been deleted or left the history).");
}
