/**
 * Joining a room (protocol §2.1, §2.4, §5.2, §5.3): the checks in their
 * documented order, a guest's fresh name or reclaim, a verified user's
 * first or next socket, and the welcome. Apart from ctx.ts because it is
 * the flow with the most rules; it changes nothing the core does not own.
 *
 * A join with `auth` is the one frame that awaits (a signature check, maybe
 * a key fetch). Nothing about the room is read before the await: every
 * check runs after it, on the room as it is then, so a name taken while the
 * token was being checked is seen as taken.
 */
import { admits, isPrivateRoom } from "../../auth/access";
import type { Identity } from "../../auth/identity";
import type { Limits } from "../../shared/limits";
import { normalizeName } from "../../shared/names";
import type { ClientFrameOf } from "../../shared/protocol";
import { CLOSE_REPLACED } from "../../shared/protocol";
import { type Bucket, emptier, type Rate, spend } from "../../shared/rate-limit";
import { encodeWelcome, errorFrame, type MemberEntry, person } from "../../shared/server-frames";
import type { Answer, Newcomer, RoomContext } from "../context";
import type { Membership } from "../state/members";
import { type Member, memberId, PROTOCOL_V3, type SocketState } from "../state/socket-state";
import { joinedVerified, welcomeReads } from "./reads";
import { newToken } from "./reclaim-token";

type JoinFrame = ClientFrameOf<"join">;

/**
 * The `join` handler. A guest join answers at once; a join with `auth`
 * answers once its token is checked (undefined when the socket closed
 * meanwhile).
 */
export function join<S>(ctx: RoomContext<S>, newcomer: Newcomer<S>, frame: JoinFrame): Answer | Promise<Answer> {
  const { socket, state } = newcomer;
  if (state.member) return errorFrame("already_joined");
  // Kept in the attachment the join writes: which frames this socket gets
  // (§9.1); what a version-3 welcome tells it is written by the welcome.
  if (frame.protocol === undefined) delete state.protocol;
  else state.protocol = frame.protocol;
  delete state.told;
  if (frame.auth === undefined) return withRingUrls(ctx, () => guestJoin(ctx, socket, state, frame));
  // A token check can cost a key-set fetch: a socket or address out of
  // joins gets no check at all, and a refused token spends a join (§5.1).
  if (!joinBudget(ctx, socket, state, undefined)) return rateLimited();
  return ctx.identify(frame.auth).then((verified) =>
    withRingUrls(ctx, () => {
      // The socket closed while its token was checked: there is no one to answer.
      if (ctx.members.stateOf(socket) !== state) return undefined;
      if (state.member) return errorFrame("already_joined");
      if (verified.ok) return verifiedJoin(ctx, socket, state, frame, verified.identity);
      spendJoin(ctx, state);
      return authInvalid(verified.message);
    }),
  );
}

/**
 * The welcome replays the ring, and its files need URLs signed in this
 * step (§11.3). Signing awaits, so it comes before anything is decided:
 * the join then runs on the room as it is after the await.
 */
function withRingUrls<S>(ctx: RoomContext<S>, decide: () => Answer): Answer | Promise<Answer> {
  const signing = ctx.history.anyFiles ? ctx.urls.ready(ctx.urls.idsIn(ctx.history.frames())) : undefined;
  return signing ? signing.then(decide) : decide();
}

/** A refused join that still costs one of the socket's and the address's joins. */
function spendJoin<S>(ctx: RoomContext<S>, state: SocketState): void {
  const now = ctx.now();
  state.joins = spend(state.joins, socketJoins(ctx.limits), now) ?? state.joins;
  ctx.budgets.joined(state.address, undefined, now);
}

/** Guests, in order: auth_required, name_invalid, banned, rate_limited, name_taken (or a reclaim), room_full. */
function guestJoin<S>(ctx: RoomContext<S>, socket: S, state: SocketState, frame: JoinFrame): string {
  if (ctx.limits.access === "verified" || isPrivateRoom(ctx.room)) {
    return errorFrame("auth_required", "Sign in to join this room: send `auth` with an identity token.");
  }
  if (frame.name === undefined) return errorFrame("bad_message", "Field `name`: a guest's join needs a name.");
  const claimed = normalizeName(frame.name, ctx.limits.maxNameChars);
  if (!claimed.ok) return errorFrame("name_invalid", claimed.message);
  const ban = ctx.sanctions.inForce("ban", { key: claimed.key, keys: claimed.keys, address: state.address }, ctx.now());
  if (ban) return banned(ban.until);
  const joins = joinBudget(ctx, socket, state, undefined);
  if (!joins) return rateLimited();

  const holder = ctx.members.holder(claimed.keys);
  if (holder) {
    // A verified user's name is theirs (§5.2): no guest token reclaims it.
    if (holder.member.user !== undefined) return errorFrame("name_taken");
    if (frame.token === undefined || !ctx.sameToken(frame.token, holder.member.token)) {
      return errorFrame("name_taken");
    }
    state.joins = joins;
    return reclaim(ctx, socket, state, holder, frame.since);
  }
  if (ctx.members.size >= ctx.limits.maxRoomUsers) return errorFrame("room_full");
  state.joins = joins;
  return newMember(ctx, socket, state, { name: claimed.name, key: claimed.key, token: newToken() }, frame.since);
}

/**
 * Verified users, in order: forbidden, banned, then for a user already in
 * the room too_many_sockets and rate_limited; for a new one name_invalid,
 * rate_limited, name_taken, room_full.
 */
function verifiedJoin<S>(
  ctx: RoomContext<S>,
  socket: S,
  state: SocketState,
  frame: JoinFrame,
  identity: Identity,
): string {
  if (!admits(identity.rooms, ctx.room)) {
    spendJoin(ctx, state);
    return errorFrame("forbidden", "Your identity token does not admit you to this room.");
  }
  const ban = ctx.sanctions.inForce("ban", { user: identity.user }, ctx.now());
  if (ban) return banned(ban.until);
  const existing = ctx.members.ofUser(identity.user);
  if (existing) {
    // Another tab of someone already here, or someone back within their
    // grace: one member, so nobody hears a thing (§5.3, §5.4).
    if (existing.sockets.length >= ctx.limits.maxSocketsPerUser) {
      return errorFrame("too_many_sockets", "You have too many connections to this room.");
    }
    const joins = joinBudget(ctx, socket, state, identity.user);
    if (!joins) return rateLimited();
    state.joins = joins;
    ctx.members.attach(existing, socket, merge(ctx, state.bucket, existing.bucket));
    // The token presented last governs the member's role on every socket (§5.3).
    ctx.members.setRole(existing, identity.role);
    ctx.budgets.joined(state.address, identity.user, ctx.now());
    return welcome(ctx, socket, state, existing, frame.since);
  }

  const claimed = normalizeName(identity.name, ctx.limits.maxNameChars);
  if (!claimed.ok) return errorFrame("name_invalid", `The name in your identity token: ${claimed.message}`);
  const joins = joinBudget(ctx, socket, state, identity.user);
  if (!joins) return rateLimited();
  const holder = ctx.members.holder(claimed.keys);
  if (holder?.member.user !== undefined) return errorFrame("name_taken");
  if (!holder && ctx.members.size >= ctx.limits.maxRoomUsers) return errorFrame("room_full");
  state.joins = joins;
  // A guest membership the name gives it up: a real identity always wins its own name back.
  if (holder) replaceGuest(ctx, holder);
  const member = {
    name: claimed.name,
    key: claimed.key,
    token: newToken(),
    user: identity.user,
    role: identity.role,
  };
  return newMember(ctx, socket, state, member, frame.since);
}

/** The socket's join budget after one more join, or null (rate_limited). Nothing is spent until the join succeeds. */
function joinBudget<S>(ctx: RoomContext<S>, socket: S, state: SocketState, user: string | undefined): Bucket | null {
  const now = ctx.now();
  // A join answers with a welcome of up to the whole ring, so joins are
  // what one socket could turn into unbounded output: each socket, each
  // address, and each socket's answer bytes have a budget.
  const joins = spend(state.joins, socketJoins(ctx.limits), now);
  if (!joins || !ctx.budgets.canJoin(state.address, user, now) || !ctx.mayAnswer(socket)) return null;
  return joins;
}

function newMember<S>(
  ctx: RoomContext<S>,
  socket: S,
  state: SocketState,
  member: Omit<Member, "order">,
  since: number | undefined,
): string {
  const now = ctx.now();
  // The member's bucket follows it: one that left with an empty bucket
  // comes back to the same bucket on any socket (src/room/state/budgets.ts).
  const left = ctx.budgets.recall(memberId(member));
  const membership = ctx.members.join(socket, member, left ? merge(ctx, state.bucket, left) : state.bucket);
  ctx.budgets.joined(state.address, member.user, now);
  ctx.arrived(membership);
  return welcome(ctx, socket, state, membership, since);
}

/**
 * The holder's token moves a guest's name to this socket. The old socket
 * is detached before it is closed, so its eventual close event finds no
 * name and announces no `left`: the others see no change at all.
 */
function reclaim<S>(
  ctx: RoomContext<S>,
  socket: S,
  state: SocketState,
  membership: Membership<S>,
  since: number | undefined,
): string {
  // Same person, same budget: a reconnect must not refill the rate bucket.
  membership.bucket = merge(ctx, state.bucket, membership.bucket);
  const old = ctx.members.handOver(membership, socket);
  ctx.budgets.joined(state.address, undefined, ctx.now());
  if (old !== undefined) {
    ctx.send(old, errorFrame("replaced"));
    ctx.close(old, CLOSE_REPLACED, "replaced");
  }
  return welcome(ctx, socket, state, membership, since);
}

/** A guest whose name a verified user claims: replaced (4001), and the others hear them leave. */
function replaceGuest<S>(ctx: RoomContext<S>, membership: Membership<S>): void {
  const told = errorFrame("replaced", "A signed-in user with this name has joined.");
  ctx.expel(membership, told, CLOSE_REPLACED, "replaced");
}

function merge<S>(ctx: RoomContext<S>, a: Bucket, b: Bucket): Bucket {
  return emptier(a, b, nameRate(ctx.limits), ctx.now());
}

/**
 * The joiner's welcome. A version-3 socket (§9.2) gets `count` and
 * `members`, or in a large room (§9.3) `count` and `large` only, so a join
 * into a big room costs no roster; its attachment records what the
 * welcome told it, where the presence batches start for it.
 */
function welcome<S>(
  ctx: RoomContext<S>,
  socket: S,
  state: SocketState,
  membership: Membership<S>,
  since: number | undefined,
): string {
  const history = ctx.history;
  // Before anything is read for the welcome: a first join starts the cursor here (§10.1).
  joinedVerified(ctx, membership);
  const after = history.after(since, ctx.limits.welcomeHistoryBytes);
  const frames = history.anyFiles ? after.frames.map((f) => ctx.urls.out(f)) : after.frames;
  const { gap } = after;
  const { member } = membership;
  const common = {
    type: "welcome" as const,
    room: ctx.room,
    ...person(member),
    role: member.role ?? "member",
    settings: { slowmode: ctx.sanctions.slowmode },
    seq: history.latestSeq,
    token: member.token,
    gap,
  };
  if (state.protocol === undefined || state.protocol < PROTOCOL_V3) {
    const members = roster(ctx);
    return encodeWelcome({ ...common, users: members.map((m) => m.name), members }, frames);
  }
  const told = ctx.presence.told();
  state.told = told;
  ctx.members.save(socket);
  const who = told.large ? { large: true as const } : { members: roster(ctx) };
  return encodeWelcome({ ...common, count: told.count, ...who, ...welcomeReads(ctx, membership, told.large) }, frames);
}

function roster<S>(ctx: RoomContext<S>): MemberEntry[] {
  return Array.from(ctx.members.all(), (h) => person(h.member));
}

/** A socket's joins (JOINS_PER_MINUTE); an address has five times as many (state/budgets.ts). */
function socketJoins(limits: Limits): Rate {
  return { burst: limits.joinsPerMinute, perSec: limits.joinsPerMinute / 60 };
}

/** A member's chat bucket (RATE_BURST, RATE_PER_SEC), merged across sockets and rejoins. */
function nameRate(limits: Limits): Rate {
  return { burst: limits.rateBurst, perSec: limits.ratePerSec };
}

function rateLimited(): string {
  return errorFrame("rate_limited", "Too many joins; wait a minute before joining again.");
}

function banned(until: number | null): string {
  return errorFrame(
    "banned",
    until === null ? "You are banned from this room." : "You are banned from this room for now.",
    { until },
  );
}

function authInvalid(message: string): string {
  return errorFrame("auth_invalid", message);
}
