/**
 * Joining a room (protocol §2.1, §2.4): the checks in their documented
 * order, a fresh name or a reclaim with the holder's token, and the
 * welcome. Apart from core.ts because it is the one flow with the most
 * rules; it changes nothing the core does not own (members, budgets).
 */
import { normalizeName } from "../shared/names";
import type { ClientFrameOf } from "../shared/protocol";
import { CLOSE_REPLACED } from "../shared/protocol";
import { emptier, type Rate, spend } from "../shared/rate-limit";
import { encodePresence, encodeWelcome, errorFrame } from "../shared/server-frames";
import type { ChatCore } from "./core";
import type { Member, Session } from "./session";
import { newToken } from "./token";

export class Joins<S extends object> {
  readonly #core: ChatCore<S>;
  readonly #socketJoins: Rate;
  readonly #names: Rate;

  constructor(core: ChatCore<S>) {
    this.#core = core;
    const { joinsPerMinute, rateBurst, ratePerSec } = core.limits;
    this.#socketJoins = { burst: joinsPerMinute, perSec: joinsPerMinute / 60 };
    this.#names = { burst: rateBurst, perSec: ratePerSec };
  }

  /** Checks, in order: already_joined, name_invalid, rate_limited, name_taken (or a reclaim), room_full. */
  join(socket: S, session: Session, frame: ClientFrameOf<"join">): string {
    const core = this.#core;
    if (session.member) return errorFrame("already_joined");
    const claimed = normalizeName(frame.name, core.limits.maxNameChars);
    if (!claimed.ok) return errorFrame("name_invalid", claimed.message);
    // A join answers with a welcome of up to the whole ring, so joins are
    // what one socket could turn into unbounded output: each socket, each
    // address, and each socket's answer bytes have a budget. Only a join
    // that succeeds spends from the join budgets.
    const now = core.now();
    const joins = spend(session.joins, this.#socketJoins, now);
    if (!joins || !core.budgets.canJoin(session.address, now) || !core.mayAnswer(socket)) {
      return errorFrame("rate_limited", "Too many joins; wait a minute before joining again.");
    }

    const holder = core.members.holder(claimed.key);
    if (holder) {
      if (frame.token === undefined || !core.sameToken(frame.token, holder.member.token))
        return errorFrame("name_taken");
      session.joins = joins;
      return this.#reclaim(socket, session, holder.socket, holder.member, frame.since);
    }
    if (core.members.size >= core.limits.maxRoomUsers) return errorFrame("room_full");

    session.joins = joins;
    // The name's bucket follows it: a name that left with an empty bucket
    // comes back to the same bucket on any socket (src/room/budgets.ts).
    const left = core.budgets.recall(claimed.key);
    if (left) session.bucket = emptier(session.bucket, left, this.#names, now);
    const member = core.members.join(socket, { name: claimed.name, key: claimed.key, token: newToken() });
    core.budgets.joined(session.address, now);
    core.broadcast(encodePresence("joined", core.room, member.name, core.members.size, now), socket);
    core.io.reportCount(core.members.size);
    return this.#welcome(member, frame.since);
  }

  /**
   * The holder's token moves the name to this socket. The old socket is
   * detached before it is closed, so its eventual close event finds no name
   * and announces no `left`: the others see no change at all.
   */
  #reclaim(socket: S, session: Session, old: S, member: Member, since: number | undefined): string {
    const core = this.#core;
    // Same person, same budget: a reconnect must not refill the rate bucket.
    const oldSession = core.members.session(old);
    if (oldSession) session.bucket = oldSession.bucket;
    core.members.handOver(member.key, socket);
    core.budgets.joined(session.address, core.now());
    core.io.send(old, errorFrame("replaced"));
    core.io.close(old, CLOSE_REPLACED, "replaced");
    return this.#welcome(member, since);
  }

  #welcome(member: Member, since: number | undefined): string {
    const core = this.#core;
    const history = core.history;
    const { frames, gap } = history.after(since, core.limits.welcomeHistoryBytes);
    const welcome = {
      type: "welcome" as const,
      room: core.room,
      name: member.name,
      users: core.members.names(),
      seq: history.latestSeq,
      token: member.token,
      gap,
    };
    return encodeWelcome(welcome, frames);
  }
}
