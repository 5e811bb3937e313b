/**
 * The roster, page by page (protocol §9.4): `members`, for every socket
 * version, in rooms large or small. Members are ordered by name without
 * case, then by `user`, then by the name as written (names are unique in a
 * room, so that order is total); a page is the members after the cursor in
 * that order, and the cursor is the last one's sort key. Following `next`
 * therefore lists every member exactly once while others come and go: a
 * member's place depends only on their own name, never on who else is here.
 */
import { type ClientFrameOf, DEFAULT_MEMBERS_PAGE, hasNamePrefix } from "../../shared/protocol";
import { encode, errorFrame, type MemberEntry, person } from "../../shared/server-frames";
import type { Answer, RoomContext, Sender } from "../context";

/** Checks, in order: bad_message (by the frame's schema), rate_limited. */
export function members<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"members">): Answer {
  if (!ctx.spendRead(sender))
    return errorFrame("rate_limited", "Too many roster, history and search requests; wait a minute.");
  const prefix = frame.prefix ?? "";
  const after = frame.after;
  const limit = frame.limit ?? DEFAULT_MEMBERS_PAGE;
  // O(members) per page, bounded by READS_PER_MINUTE: a sorted copy kept in
  // step with every join and leave would cost every join instead.
  const page: Array<{ key: string; entry: MemberEntry }> = [];
  for (const { member } of ctx.members.all()) {
    if (!hasNamePrefix(member.name, prefix)) continue;
    const key = sortKey(member.name.toLowerCase(), member.user, member.name);
    if (after === undefined || key > after) page.push({ key, entry: person(member) });
  }
  page.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const shown = page.slice(0, limit);
  const next = page.length > limit ? (shown.at(-1)?.key ?? null) : null;
  return encode({ type: "members", room: ctx.room, members: shown.map((p) => p.entry), next, count: ctx.members.size });
}

/** Name without case, then `user` (guests first), then the name as written; NUL cannot occur in a name. */
function sortKey(lower: string, user: string | undefined, name: string): string {
  return `${lower}\u0000${user === undefined ? "" : `\u0001${user}`}\u0000${name}`;
}
