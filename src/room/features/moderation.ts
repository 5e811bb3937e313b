/**
 * Moderation (protocol §6): who may act on whom, and what each action does
 * to the room. The same rules serve a moderator's frame and the HTTP API
 * (which acts as an admin named "system"). Bans, mutes and slow mode
 * themselves are kept by sanctions.ts; this file decides and announces.
 *
 * Every action that succeeds writes one audit line to the log: who, what,
 * on whom, until when. Never a message's text, never a token.
 */
import type { ModerationState } from "../../shared/http";
import { nameKey, nameKeys } from "../../shared/names";
import { CLOSE_KICKED, DEFAULT_ROLE, type ModerationFrame, type Role } from "../../shared/protocol";
import { encode, errorFrame, person } from "../../shared/server-frames";
import type { Answer, RoomContext, Sender } from "../context";
import type { Membership } from "../state/members";
import type { Sanction, SanctionKind } from "../state/sanctions";

/** Who acts: a member of the room, or the HTTP API. */
export interface Actor<S> {
  name: string;
  role: Role;
  /** The acting member (absent for the API): nobody may act on themself. */
  membership?: Membership<S>;
}

export type Outcome = { ok: true } | { ok: false; code: "forbidden" | "no_such_user"; message: string };

const OK: Outcome = { ok: true };

/** Bans, mutes and slow mode in force (GET /api/rooms/:room/moderation, §6.4). */
export function moderationState<S>(ctx: RoomContext<S>): ModerationState {
  const now = ctx.now();
  const entry = (s: Sanction) => ({ ...person(s), until: s.until });
  return {
    bans: ctx.sanctions.list("ban", now).map(entry),
    mutes: ctx.sanctions.list("mute", now).map(entry),
    slowmode: ctx.sanctions.slowmode,
  };
}

/** A moderation frame's handler (§6.2): the frame's error, or nothing when it succeeded. */
export function moderationFrame<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ModerationFrame): Answer {
  const { name, role } = sender.membership.member;
  const outcome = moderate(ctx, { name, role: role ?? DEFAULT_ROLE, membership: sender.membership }, frame);
  return outcome.ok ? undefined : errorFrame(outcome.code, outcome.message);
}

/** One action by a member or by the HTTP API (§6.4, an admin named "system"). */
export function moderate<S>(ctx: RoomContext<S>, actor: Actor<S>, frame: ModerationFrame): Outcome {
  const outcome = act(ctx, actor, frame);
  // A timed ban or mute must end from the alarm, with nobody around.
  const next = ctx.sanctions.nextExpiry();
  if (outcome.ok && next !== undefined) ctx.wantAlarm(next);
  return outcome;
}

function act<S>(ctx: RoomContext<S>, actor: Actor<S>, frame: ModerationFrame): Outcome {
  // §6.1: guests and members may not moderate at all.
  if (actor.role === "member") return refuse("forbidden", "Only moderators and admins may do that.");
  switch (frame.type) {
    case "slowmode":
      return slowmode(ctx, actor, frame.seconds);
    case "unban":
    case "unmute":
      return lift(ctx, actor, frame.type === "unban" ? "ban" : "mute", frame.name);
    default: {
      const target = ctx.members.holder(nameKeys(frame.name.trim()));
      if (!target) return refuse("no_such_user", "Nobody of that name is in this room.");
      if (!mayActOn(actor, target.member.role ?? DEFAULT_ROLE, target === actor.membership)) return rankRefusal();
      if (frame.type === "kick") return removeMember(ctx, actor, target, "kick", frame.reason, undefined);
      const until = frame.minutes === undefined ? null : ctx.now() + frame.minutes * 60_000;
      const sanction = sanctionOn(actor, target, frame.type, until, frame.reason);
      ctx.sanctions.impose(sanction);
      if (frame.type === "ban") return removeMember(ctx, actor, target, "ban", frame.reason, until);
      announce(ctx, actor.name, "mute", {
        name: target.member.name,
        user: target.member.user,
        until,
        reason: frame.reason,
      });
      return OK;
    }
  }
}

/** The alarm found sanctions that ran out: the room hears they ended, from "system". */
export function expired<S>(ctx: RoomContext<S>, sanctions: readonly Sanction[]): void {
  for (const s of sanctions) {
    const action = s.kind === "ban" ? "unban" : "unmute";
    announce(ctx, "system", action, { name: s.name, user: s.user });
  }
}

function slowmode<S>(ctx: RoomContext<S>, actor: Actor<S>, seconds: number): Outcome {
  ctx.sanctions.setSlowmode(seconds);
  announce(ctx, actor.name, "slowmode", { seconds });
  return OK;
}

function lift<S>(ctx: RoomContext<S>, actor: Actor<S>, kind: SanctionKind, name: string): Outcome {
  const sanction = ctx.sanctions.onName(kind, nameKey(name.trim()), ctx.now());
  if (!sanction) return refuse("no_such_user", `Nobody of that name is ${kind === "ban" ? "banned" : "muted"} here.`);
  // Lifting follows imposing: a moderator cannot lift what only an admin could impose.
  if (!mayActOn(actor, sanction.role, false)) return rankRefusal();
  ctx.sanctions.lift(sanction);
  announce(ctx, actor.name, kind === "ban" ? "unban" : "unmute", { name: sanction.name, user: sanction.user });
  return OK;
}

function sanctionOn<S>(
  actor: Actor<S>,
  target: Membership<S>,
  kind: SanctionKind,
  until: number | null,
  reason: string | undefined,
): Sanction {
  const { name, key, user, role } = target.member;
  const sanction: Sanction = { kind, name, key, role: role ?? DEFAULT_ROLE, until, by: actor.name };
  // A user is held by `sub`, a guest by name and address (sanctions.ts says why).
  if (user !== undefined) sanction.user = user;
  else sanction.address = target.address;
  if (reason !== undefined) sanction.reason = reason;
  return sanction;
}

/**
 * Kick or ban: every socket of the target is told why and closed with
 * 4003 (a client does not reconnect after it), and the others hear `left`
 * with the reason, then the moderation frame.
 */
function removeMember<S>(
  ctx: RoomContext<S>,
  actor: Actor<S>,
  target: Membership<S>,
  action: "kick" | "ban",
  reason: string | undefined,
  until: number | null | undefined,
): Outcome {
  const code = action === "kick" ? "kicked" : "banned";
  const details = { ...(reason === undefined ? {} : { reason }), ...(until === undefined ? {} : { until }) };
  ctx.expel(target, errorFrame(code, undefined, details), CLOSE_KICKED, code);
  announce(ctx, actor.name, action, { name: target.member.name, user: target.member.user, until, reason });
  return OK;
}

function announce<S>(
  ctx: RoomContext<S>,
  by: string,
  action: ModerationFrame["type"],
  what: {
    name?: string;
    user?: string | undefined;
    until?: number | null | undefined;
    reason?: string | undefined;
    seconds?: number;
  },
): void {
  const { name, user, until, reason, seconds } = what;
  const frame = {
    type: "moderation" as const,
    room: ctx.room,
    action,
    ...(name === undefined ? {} : person({ name, user })),
    by,
    ...(until === undefined ? {} : { until }),
    ...(reason === undefined ? {} : { reason }),
    ...(seconds === undefined ? {} : { seconds }),
    ts: ctx.now(),
  };
  ctx.broadcast(encode(frame));
  // The audit line: never a message's text, never a token.
  console.log(
    JSON.stringify({
      audit: "moderation",
      room: ctx.room,
      actor: by,
      action,
      ...(name === undefined ? {} : { target: name }),
      ...(user === undefined ? {} : { user }),
      ...(until === undefined ? {} : { until }),
      ...(seconds === undefined ? {} : { seconds }),
    }),
  );
}

/**
 * §6.1: a moderator acts on members and guests; an admin on anyone but
 * themself. (A moderator is not a member, so no moderator acts on themself.)
 */
function mayActOn<S>(actor: Actor<S>, targetRole: Role, self: boolean): boolean {
  if (actor.role === "admin") return !self;
  return actor.role === "moderator" && targetRole === "member";
}

function refuse(code: "forbidden" | "no_such_user", message: string): Outcome {
  return { ok: false, code, message };
}

function rankRefusal(): Outcome {
  return refuse("forbidden", "You may not act on that person.");
}
