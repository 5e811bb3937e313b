/**
 * Changing a stored message (protocol §7): `edit`, `delete` and `react`.
 * Each change takes the room's next seq (state/history.ts stores it, one
 * row), folds into the message by the one rule of src/shared/updates.ts,
 * and everyone gets one `update` frame, serialized once. Authorship is the
 * member id (state/socket-state.ts): a verified user's `sub`, a guest's
 * name while they hold it.
 */
import { type ClientFrameOf, isStaff, MAX_REACTION_EMOJI, MAX_REACTIONS_PER_MESSAGE } from "../../shared/protocol";
import { encodeUpdate, errorFrame, type MemberEntry, person } from "../../shared/server-frames";
import { checkText } from "../../shared/text";
import { applyUpdate } from "../../shared/updates";
import type { Answer, RoomContext, Sender } from "../context";
import type { Message } from "../state/history";
import { memberId } from "../state/socket-state";
import { mentioned, mentionsIn } from "./reads";

/** Checks, in order: bad_message/too_long, not_found, forbidden (not the author), muted, rate_limited. */
export function edit<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"edit">): Answer {
  const { seq, text } = frame;
  const check = checkText(text, ctx.limits.maxMessageChars, true);
  if (!check.ok) return errorFrame(check.code, check.message);
  const message = live(ctx, seq);
  // §11.2: a message with files may lose its text; one without may not.
  const blank = checkText(text, ctx.limits.maxMessageChars, message?.hasFiles === true);
  if (!blank.ok) return errorFrame(blank.code, blank.message);
  if (!message) return notFound();
  if (message.author !== memberId(sender.membership.member)) {
    return errorFrame("forbidden", "Only its author may edit a message.");
  }
  const refusal = ctx.mutedError(sender.membership) ?? (ctx.spend(sender) ? undefined : errorFrame("rate_limited"));
  if (refusal) return refusal;
  const edited = ctx.now();
  // §10.2: an edit recomputes the mentions, and its update always carries them.
  const mentions = mentionsIn(ctx, text);
  let before: MemberEntry[] = [];
  const change = ctx.history.change(seq, (m) => {
    before = m.mentions ?? [];
    return applyUpdate(m, { v: m.v, text, edited, mentions });
  });
  mentioned(ctx, seq, { ...sender.membership.member, ts: edited }, text, mentions, before);
  ctx.broadcast(encodeUpdate({ room: ctx.room, seq: change.seq, v: change.seq, target: seq, text, edited, mentions }));
  return undefined;
}

/**
 * Works on any retained message, in the ring or beyond it (§8.1). Checks,
 * in order: not_found, forbidden (neither the author nor a moderator or
 * admin), rate_limited. A muted author may still take their
 * own message back.
 */
export function remove<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"delete">): Answer {
  const { seq } = frame;
  // §8.1: the right to take one's text back does not end when the message leaves the ring.
  const retained = ctx.history.retained(seq);
  const message = retained && !retained.deleted ? retained : undefined;
  if (!message) return notFound();
  const { member } = sender.membership;
  if (message.author !== memberId(member) && !isStaff(member.role)) {
    return errorFrame("forbidden", "Only its author or a moderator may delete a message.");
  }
  if (!ctx.spend(sender)) return errorFrame("rate_limited");
  // A tombstone, nothing more: the text, reactions and reply are gone from storage.
  const change = ctx.history.change(seq, (m, reactors) => {
    reactors.clear();
    return applyUpdate(m, { v: m.v, deleted: true });
  });
  // §11.3: a deleted message's files leave the bucket with it; §10.2: it counts for no one.
  ctx.files.deleted(seq);
  ctx.reads.mention(seq, []);
  ctx.broadcast(encodeUpdate({ room: ctx.room, seq: change.seq, v: change.seq, target: seq, deleted: true }));
  return undefined;
}

/** Toggles the sender's reaction. Checks, in order: not_found, muted, too_many_reactions, rate_limited. */
export function react<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"react">): Answer {
  const { seq, emoji } = frame;
  const message = live(ctx, seq);
  if (!message) return notFound();
  const muted = ctx.mutedError(sender.membership);
  if (muted) return muted;
  const { member } = sender.membership;
  const id = memberId(member);
  const mine = message.reactors.get(emoji)?.some(([who]) => who === id) ?? false;
  if (!mine && !message.reactors.has(emoji) && message.reactors.size >= MAX_REACTION_EMOJI) {
    return errorFrame("too_many_reactions", `A message holds at most ${MAX_REACTION_EMOJI} different reactions.`);
  }
  if (!mine && reactionCount(message.reactors) >= MAX_REACTIONS_PER_MESSAGE) {
    return errorFrame("too_many_reactions", `A message holds at most ${MAX_REACTIONS_PER_MESSAGE} reactions.`);
  }
  if (!ctx.spend(sender)) return errorFrame("rate_limited");
  let count = 0;
  const change = ctx.history.change(seq, (_m, reactors) => {
    const who = reactors.get(emoji) ?? [];
    const next = mine ? who.filter(([w]) => w !== id) : [...who, [id, member.name] as [string, string]];
    count = next.length;
    if (next.length > 0) reactors.set(emoji, next);
    else reactors.delete(emoji);
    return undefined;
  });
  // §7.3: version-2 sockets get the whole (bounded) summary, version-3
  // sockets only the one change, so a 68-byte `react` never costs every
  // member the message's whole reaction list.
  const update = { room: ctx.room, seq: change.seq, v: change.seq, target: seq };
  ctx.broadcastByVersion(
    encodeUpdate({ ...update, reactions: change.message.reactions ?? {} }),
    encodeUpdate({ ...update, reaction: { emoji, ...person(member), added: !mine, count } }),
  );
  return undefined;
}

/** A message in the ring that is not deleted. */
function live<S>(ctx: RoomContext<S>, seq: number): Message | undefined {
  const message = ctx.history.get(seq);
  return message && !message.deleted ? message : undefined;
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
