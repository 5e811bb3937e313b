/**
 * Read state, unread counts and mentions (protocol §10): the `read` frame,
 * the read state a version-3 welcome carries, the mentions of a chat or
 * edit and the notes they send to the users' own objects (§10.3), and the
 * counts those objects ask for.
 *
 * Read state is a verified user's (§10): guests get `auth_required` for
 * `read`, have no cursor, and are mentioned in frames but never counted.
 */
import { findMentions, foldName } from "../../shared/mentions";
import type { ClientFrameOf } from "../../shared/protocol";
import { encode, errorFrame, type MemberEntry, type ReadEntry } from "../../shared/server-frames";
import type { RoomReadState } from "../../user/notes";
import type { Answer, RoomContext, Sender } from "../context";
import type { Membership } from "../state/members";
import { memberId } from "../state/socket-state";

/** Checks, in order: auth_required (a guest), rate_limited. No answer to the sender (§10.1). */
export function read<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"read">): Answer {
  const { membership } = sender;
  const user = membership.member.user;
  if (user === undefined) return errorFrame("auth_required", "Read state is kept for signed-in users only.");
  if (!ctx.spend(sender)) return errorFrame("rate_limited");
  // §10.1: a cursor past the room's latest event is capped to it.
  const seq = Math.min(frame.seq, ctx.history.latestSeq);
  if (!ctx.reads.advance(user, seq, ctx.now())) return undefined;
  // The user's other tabs clear their badges; the others see a receipt.
  const moved = encode({ type: "read", room: ctx.room, seq });
  for (const socket of membership.sockets) if (socket !== sender.socket) ctx.send(socket, moved);
  ctx.receipt({ name: membership.member.name, user }, seq);
  return undefined;
}

/**
 * A verified user joined (a first socket or another): the room remembers
 * them under this name (§10.2), a first join starts their cursor at the
 * latest event (§10.1), and their object hears of the room (§10.3).
 */
export function joinedVerified<S>(ctx: RoomContext<S>, membership: Membership<S>): void {
  const { user, name } = membership.member;
  if (user === undefined) return;
  const now = ctx.now();
  ctx.reads.joined(user, name, ctx.history.latestSeq, now);
  ctx.tellUser(user, { kind: "joined", room: ctx.room, ts: now });
}

/** What a version-3 welcome adds for a verified user (§10.1, §10.2): their read state, and the others' cursors in a room that is not large. */
export function welcomeReads<S>(
  ctx: RoomContext<S>,
  membership: Membership<S>,
  large: boolean,
): { lastRead?: number; unread?: number; mentions?: number; reads?: ReadEntry[] } {
  const user = membership.member.user;
  const reads = large ? undefined : receipts(ctx, user);
  if (user === undefined) return reads ? { reads } : {};
  const { lastRead, unread, mentions } = countsFor(ctx, user);
  return { lastRead, unread, mentions, ...(reads ? { reads } : {}) };
}

/** Every other verified member present, with their cursor. */
function receipts<S>(ctx: RoomContext<S>, self: string | undefined): ReadEntry[] {
  const out: ReadEntry[] = [];
  for (const { member } of ctx.members.all()) {
    if (member.user === undefined || member.user === self) continue;
    out.push({ name: member.name, user: member.user, seq: ctx.reads.cursor(member.user) });
  }
  return out;
}

/** §10.2, for the user's object (§10.3) and the welcome. */
export function countsFor<S>(ctx: RoomContext<S>, user: string): RoomReadState {
  const history = ctx.history;
  const row = ctx.reads.of(user);
  const lastRead = row?.seq ?? 0;
  const { unread, mentions } = ctx.reads.counts(user, memberId({ key: "", user }), lastRead, history.notBefore());
  return {
    seq: history.latestSeq,
    lastRead,
    unread,
    mentions,
    ts: history.newestTs ?? null,
    active: Math.max(row?.joined ?? 0, row?.readAt ?? 0),
  };
}

/**
 * Who a text mentions (§10.2): members present first, then the verified
 * users the room remembers; longest name first at each `@`.
 */
export function mentionsIn<S>(ctx: RoomContext<S>, text: string): MemberEntry[] {
  if (!text.includes("@")) return [];
  return findMentions(
    text,
    (folded) => {
      const present = ctx.members.ofFold(folded)?.member;
      if (present)
        return present.user === undefined ? { name: present.name } : { name: present.name, user: present.user };
      const known = ctx.reads.remembered(folded);
      // A remembered user now known by another name in the room is not this name's.
      return known && foldName(known.name) === folded ? { name: known.name, user: known.user } : undefined;
    },
    ctx.limits.maxNameChars,
  );
}

/**
 * After a chat or an edit is stored: the mention rows the counts read,
 * and one note per verified user newly mentioned (`before`: whom the
 * message mentioned already), so an edit that keeps a mention tells no one
 * again (§10.3).
 */
export function mentioned<S>(
  ctx: RoomContext<S>,
  seq: number,
  author: { name: string; user?: string | undefined; ts: number },
  text: string,
  mentions: readonly MemberEntry[],
  before: readonly MemberEntry[] = [],
): void {
  const users = mentions.flatMap((m) => (m.user === undefined ? [] : [m.user]));
  if (users.length === 0 && before.every((m) => m.user === undefined)) return;
  ctx.reads.mention(seq, users);
  const told = new Set(before.map((m) => m.user));
  for (const user of users) {
    if (told.has(user) || user === author.user) continue;
    ctx.tellUser(user, {
      kind: "mention",
      room: ctx.room,
      seq,
      name: author.name,
      ...(author.user === undefined ? {} : { user: author.user }),
      text,
      ts: author.ts,
    });
  }
}

/** §10.1: a user's own chat moves their cursor to it, silently. */
export function wroteOwn<S>(ctx: RoomContext<S>, membership: Membership<S>, seq: number): void {
  const user = membership.member.user;
  if (user !== undefined) ctx.reads.advance(user, seq, ctx.now());
}
