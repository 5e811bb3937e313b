/**
 * Version 3's batched presence (protocol §9.2), as rules both sides share:
 * how members are told apart, the net change a run of joins and leaves
 * makes, and how a receiver applies a `presence` frame to the roster its
 * `welcome` gave it. The room builds its frames with `netChange`; the page,
 * the client library and the tests rebuild rosters with `applyPresence`,
 * so "the roster a version-3 socket sees" has one definition.
 */
import type { LeftEntry, MemberEntry, ServerFrameOf } from "./server-frames";

export type PresenceFrame = ServerFrameOf<"presence">;
export type LeaveReason = "kicked" | "banned";

/** One change to the roster, in the order the room made them. */
export interface RosterChange {
  kind: "joined" | "left";
  who: MemberEntry;
  reason?: LeaveReason | undefined;
}

/** §9.2: verified users are told apart by `user`, guests by their name. */
export function presenceKey(member: MemberEntry): string {
  return member.user === undefined ? `n:${member.name}` : `u:${member.user}`;
}

/**
 * What a run of changes amounts to for someone who saw the roster before
 * the first: a member who joined and left again is in neither list; one
 * who left and came back as they were is no change; one who came back
 * under another name (a verified user's new token) left as the old name
 * and joined as the new. `joined` is in join order; `left` in the order
 * the receiver last knew them.
 */
export function netChange(changes: readonly RosterChange[]): { joined: MemberEntry[]; left: LeftEntry[] } {
  const runs = new Map<string, { first: RosterChange; last: RosterChange; at: number; reason?: LeaveReason }>();
  changes.forEach((change, at) => {
    const key = presenceKey(change.who);
    const run = runs.get(key);
    const reason = change.kind === "left" ? change.reason : run?.reason;
    if (run) Object.assign(run, { last: change, at, reason });
    else runs.set(key, { first: change, last: change, at, reason });
  });
  const joined: Array<[number, MemberEntry]> = [];
  const left: LeftEntry[] = [];
  for (const { first, last, at, reason } of runs.values()) {
    const wasHere = first.kind === "left";
    const isHere = last.kind === "joined";
    if (wasHere && isHere && same(first.who, last.who)) continue;
    if (wasHere) left.push(reason === undefined ? entry(first.who) : { ...entry(first.who), reason });
    if (isHere) joined.push([at, entry(last.who)]);
  }
  joined.sort((a, b) => a[0] - b[0]);
  return { joined: joined.map(([, who]) => who), left };
}

/**
 * A receiver's roster (join order) after one `presence` frame: a crossing
 * to small replaces it with the frame's `members`; otherwise `left` is
 * applied before `joined`, so a member who left under one name and joined
 * under another ends up under the new one. In a large room (§9.3) the
 * frames carry only `count`, and the roster is what `members` pages say.
 */
export function applyPresence(roster: readonly MemberEntry[], frame: PresenceFrame): MemberEntry[] {
  if (frame.members !== undefined) return frame.members.map(entry);
  const gone = new Set(frame.left.map(presenceKey));
  for (const who of frame.joined) gone.add(presenceKey(who));
  return [...roster.filter((m) => !gone.has(presenceKey(m))), ...frame.joined.map(entry)];
}

function same(a: MemberEntry, b: MemberEntry): boolean {
  return a.name === b.name && a.user === b.user;
}

/** `{name}` or `{name, user}`, never a `user` key holding undefined. */
function entry(m: MemberEntry): MemberEntry {
  return m.user === undefined ? { name: m.name } : { name: m.name, user: m.user };
}
