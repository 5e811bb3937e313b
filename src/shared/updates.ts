/**
 * How one `update` (protocol §7.3) changes a stored message: the one rule,
 * used by the room when it stores a change, by the browser client and the
 * client library when they apply one, and by the tests that rebuild a
 * room's view from its frames. Pure: it returns the message's next state.
 */
import { REACTION_NAMES } from "./protocol";
import type { StoredChat, UpdateFrame } from "./server-frames";

/** The part of an `update` that says what changed. */
export type Change = Pick<UpdateFrame, "v" | "text" | "edited" | "deleted" | "reactions" | "reaction" | "mentions">;

export function applyUpdate<M extends StoredChat>(message: M, change: Change): M {
  const next: M = { ...message, v: change.v };
  if (change.deleted) {
    // A tombstone: the text, its edit, its reply, its reactions and its files are gone (§11.2).
    next.text = "";
    next.deleted = true;
    delete next.edited;
    delete next.replyTo;
    delete next.reactions;
    delete next.files;
    delete next.mentions;
  }
  if (change.text !== undefined) {
    next.text = change.text;
    if (change.edited !== undefined) next.edited = change.edited;
  }
  if (change.reactions !== undefined) {
    if (Object.keys(change.reactions).length > 0) next.reactions = change.reactions;
    else delete next.reactions;
  }
  // §10.2: an edit's `update` says who the new text mentions.
  if (change.mentions !== undefined) {
    if (change.mentions.length > 0) next.mentions = change.mentions;
    else delete next.mentions;
  }
  if (change.reaction !== undefined) next.reactions = withReaction(next.reactions, change.reaction);
  return next;
}

/**
 * A version-3 socket's one reaction change folded into a summary: the
 * count as the room says, the name added (within the first REACTION_NAMES)
 * or taken out. A name that was past the first ten stays unknown, as the
 * room's own summary would leave it.
 */
function withReaction(
  reactions: StoredChat["reactions"],
  change: NonNullable<Change["reaction"]>,
): StoredChat["reactions"] {
  const { emoji, name, added, count } = change;
  const entries = Object.entries(reactions ?? {});
  const at = entries.findIndex(([e]) => e === emoji);
  const names = (at >= 0 ? (entries[at]?.[1].names ?? []) : []).filter((n) => n !== name);
  if (added && names.length < REACTION_NAMES) names.push(name);
  // An emoji keeps its place; a new one goes last, as the room orders them.
  const entry: [string, { count: number; names: string[] }] = [emoji, { count, names }];
  if (count === 0) entries.splice(at, at >= 0 ? 1 : 0);
  else if (at >= 0) entries[at] = entry;
  else entries.push(entry);
  // fromEntries keeps an emoji `__proto__` an own key (§7.2).
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}
