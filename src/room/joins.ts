/**
 * Joining a room (protocol §2.1, §2.4, §5.2, §5.3): the checks in their
 * documented order, a guest's fresh name or reclaim, a verified user's
 * first or next socket, and the welcome. Apart from core.ts because it is
 * the flow with the most rules; it changes nothing the core does not own.
 *
 * A join with `auth` is the one frame that awaits (a signature check, maybe
 * a key fetch). Nothing about the room is read before the await: every
 * check runs after it, on the room as it is then, so a name taken while the
 * token was being checked is seen as taken.
 */
import { admits, isPrivateRoom } from "../auth/access";
import type { Identity, Verified } from "../auth/identity";
import { normalizeName } from "../shared/names";
import type { ClientFrameOf } from "../shared/protocol";
import { CLOSE_REPLACED } from "../shared/protocol";
import { type Bucket, emptier, type Rate, spend } from "../shared/rate-limit";
import { encodePresence, encodeWelcome, errorFrame, person } from "../shared/server-frames";
import type { ChatCore } from "./core";
import type { Holding } from "./members";
import { type Member, memberId, type Session } from "./session";
import { newToken } from "./token";

type JoinFrame = ClientFrameOf<"join">;

export class Joins<S extends object> {
  readonly #core: ChatCore<S>;
  readonly #identify: (token: string) => Promise<Verified>;
  readonly #socketJoins: Rate;
  readonly #names: Rate;

  constructor(core: ChatCore<S>, identify: (token: string) => Promise<Verified>) {
    this.#core = core;
    this.#identify = identify;
    const { joinsPerMinute, rateBurst, ratePerSec } = core.limits;
    this.#socketJoins = { burst: joinsPerMinute, perSec: joinsPerMinute / 60 };
    this.#names = { burst: rateBurst, perSec: ratePerSec };
  }

  /**
   * A guest join answers at once; a join with `auth` answers once its token
   * is checked (undefined when the socket closed meanwhile).
   */
  join(socket: S, session: Session, frame: JoinFrame): string | Promise<string | undefined> {
    if (session.member) return errorFrame("already_joined");
    // Kept in the attachment the join writes: which frames this socket gets (§9.1).
    if (frame.protocol === undefined) delete session.protocol;
    else session.protocol = frame.protocol;
    if (frame.auth === undefined) return this.#guest(socket, session, frame);
    // A token check can cost a key-set fetch: a socket or address out of
    // joins gets no check at all, and a refused token spends a join (§5.1).
    if (!this.#joinBudget(socket, session, undefined)) return rateLimited();
    return this.#identify(frame.auth).then((verified) => {
      // The socket closed while its token was checked: there is no one to answer.
      if (this.#core.members.session(socket) !== session) return undefined;
      if (session.member) return errorFrame("already_joined");
      if (verified.ok) return this.#verified(socket, session, frame, verified.identity);
      this.#spendJoin(session);
      return authInvalid(verified.message);
    });
  }

  /** A refused join that still costs one of the socket's and the address's joins. */
  #spendJoin(session: Session): void {
    const now = this.#core.now();
    session.joins = spend(session.joins, this.#socketJoins, now) ?? session.joins;
    this.#core.budgets.joined(session.address, undefined, now);
  }

  /** Guests, in order: auth_required, name_invalid, banned, rate_limited, name_taken (or a reclaim), room_full. */
  #guest(socket: S, session: Session, frame: JoinFrame): string {
    const core = this.#core;
    if (core.limits.access === "verified" || isPrivateRoom(core.room)) {
      return errorFrame("auth_required", "Sign in to join this room: send `auth` with an identity token.");
    }
    if (frame.name === undefined) return errorFrame("bad_message", "Field `name`: a guest's join needs a name.");
    const claimed = normalizeName(frame.name, core.limits.maxNameChars);
    if (!claimed.ok) return errorFrame("name_invalid", claimed.message);
    const ban = core.sanctions.holding(
      "ban",
      { key: claimed.key, keys: claimed.keys, address: session.address },
      core.now(),
    );
    if (ban) return banned(ban.until);
    const joins = this.#joinBudget(socket, session, undefined);
    if (!joins) return rateLimited();

    const holder = core.members.holder(claimed.keys);
    if (holder) {
      // A verified user's name is theirs (§5.2): no guest token reclaims it.
      if (holder.member.user !== undefined) return errorFrame("name_taken");
      if (frame.token === undefined || !core.sameToken(frame.token, holder.member.token)) {
        return errorFrame("name_taken");
      }
      session.joins = joins;
      return this.#reclaim(socket, session, holder, frame.since);
    }
    if (core.members.size >= core.limits.maxRoomUsers) return errorFrame("room_full");
    session.joins = joins;
    return this.#newMember(socket, session, { name: claimed.name, key: claimed.key, token: newToken() }, frame.since);
  }

  /**
   * Verified users, in order: forbidden, banned, then for a user already in
   * the room too_many_sockets and rate_limited; for a new one name_invalid,
   * rate_limited, name_taken, room_full.
   */
  #verified(socket: S, session: Session, frame: JoinFrame, identity: Identity): string {
    const core = this.#core;
    if (!admits(identity.rooms, core.room)) {
      this.#spendJoin(session);
      return errorFrame("forbidden", "Your identity token does not admit you to this room.");
    }
    const ban = core.sanctions.holding("ban", { user: identity.user }, core.now());
    if (ban) return banned(ban.until);
    const existing = core.members.ofUser(identity.user);
    if (existing) {
      // Another tab of someone already here, or someone back within their
      // grace: one member, so nobody hears a thing (§5.3, §5.4).
      if (existing.sockets.length >= core.limits.maxSocketsPerUser) {
        return errorFrame("too_many_sockets", "You have too many connections to this room.");
      }
      const joins = this.#joinBudget(socket, session, identity.user);
      if (!joins) return rateLimited();
      session.joins = joins;
      core.members.attach(existing, socket, this.#merge(session.bucket, existing.bucket));
      // The token presented last governs the member's role on every socket (§5.3).
      core.members.setRole(existing, identity.role);
      core.budgets.joined(session.address, identity.user, core.now());
      return this.#welcome(existing, frame.since);
    }

    const claimed = normalizeName(identity.name, core.limits.maxNameChars);
    if (!claimed.ok) return errorFrame("name_invalid", `The name in your identity token: ${claimed.message}`);
    const joins = this.#joinBudget(socket, session, identity.user);
    if (!joins) return rateLimited();
    const holder = core.members.holder(claimed.keys);
    if (holder?.member.user !== undefined) return errorFrame("name_taken");
    if (!holder && core.members.size >= core.limits.maxRoomUsers) return errorFrame("room_full");
    session.joins = joins;
    // A guest holding the name gives it up: a real identity always wins its own name back.
    if (holder) this.#replaceGuest(holder);
    const member = {
      name: claimed.name,
      key: claimed.key,
      token: newToken(),
      user: identity.user,
      role: identity.role,
    };
    return this.#newMember(socket, session, member, frame.since);
  }

  /** The socket's join budget after one more join, or null (rate_limited). Nothing is spent until the join succeeds. */
  #joinBudget(socket: S, session: Session, user: string | undefined): Bucket | null {
    const core = this.#core;
    const now = core.now();
    // A join answers with a welcome of up to the whole ring, so joins are
    // what one socket could turn into unbounded output: each socket, each
    // address, and each socket's answer bytes have a budget.
    const joins = spend(session.joins, this.#socketJoins, now);
    if (!joins || !core.budgets.canJoin(session.address, user, now) || !core.mayAnswer(socket)) return null;
    return joins;
  }

  #newMember(socket: S, session: Session, member: Omit<Member, "order">, since: number | undefined): string {
    const core = this.#core;
    const now = core.now();
    // The member's bucket follows it: one that left with an empty bucket
    // comes back to the same bucket on any socket (src/room/budgets.ts).
    const left = core.budgets.recall(memberId(member));
    const holding = core.members.join(socket, member, left ? this.#merge(session.bucket, left) : session.bucket);
    core.budgets.joined(session.address, member.user, now);
    core.broadcast(encodePresence("joined", core.room, holding.member, core.members.size, now), holding);
    core.io.reportCount(core.members.size);
    return this.#welcome(holding, since);
  }

  /**
   * The holder's token moves a guest's name to this socket. The old socket
   * is detached before it is closed, so its eventual close event finds no
   * name and announces no `left`: the others see no change at all.
   */
  #reclaim(socket: S, session: Session, holding: Holding<S>, since: number | undefined): string {
    const core = this.#core;
    // Same person, same budget: a reconnect must not refill the rate bucket.
    holding.bucket = this.#merge(session.bucket, holding.bucket);
    const old = core.members.handOver(holding, socket);
    core.budgets.joined(session.address, undefined, core.now());
    if (old !== undefined) {
      core.io.send(old, errorFrame("replaced"));
      core.io.close(old, CLOSE_REPLACED, "replaced");
    }
    return this.#welcome(holding, since);
  }

  /** A guest whose name a verified user claims: replaced (4001), and the others hear them leave. */
  #replaceGuest(holding: Holding<S>): void {
    const told = errorFrame("replaced", "A signed-in user with this name has joined.");
    this.#core.expel(holding, told, CLOSE_REPLACED, "replaced");
  }

  #merge(a: Bucket, b: Bucket): Bucket {
    return emptier(a, b, this.#names, this.#core.now());
  }

  #welcome(holding: Holding<S>, since: number | undefined): string {
    const core = this.#core;
    const history = core.history;
    const { frames, gap } = history.after(since, core.limits.welcomeHistoryBytes);
    const { member } = holding;
    const members = Array.from(core.members.all(), (h) => person(h.member));
    const welcome = {
      type: "welcome" as const,
      room: core.room,
      ...person(member),
      users: members.map((m) => m.name),
      members,
      role: member.role ?? "member",
      settings: { slowmode: core.sanctions.slowmode },
      seq: history.latestSeq,
      token: member.token,
      gap,
    };
    return encodeWelcome(welcome, frames);
  }
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
