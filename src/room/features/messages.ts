/**
 * Talking in a room (protocol §2.2–§2.4): `chat` (stored, then broadcast),
 * `dm` (delivered, never stored), `typing`, `leave`, and a bot's message
 * through the HTTP API (§4). The chat path is this file, the history ring
 * it stores into (state/history.ts) and the broadcast (core.ts).
 */

import type { PublishResult, RoomSnapshot } from "../../shared/http";
import { nameKeys, normalizeName } from "../../shared/names";
import { type ClientFrameOf, isStaff } from "../../shared/protocol";
import { encode, errorFrame, person } from "../../shared/server-frames";
import { checkText } from "../../shared/text";
import type { Answer, RoomContext, Sender } from "../context";
import { memberId } from "../state/socket-state";
import { mentioned, mentionsIn, wroteOwn } from "./reads";

/**
 * Checks, in order: bad_message/too_long, a retry's original, not_found
 * (replyTo, then files), muted, slow_mode, rate_limited. A chat with files
 * whose URLs are not signed yet waits for them and then runs again from the
 * top (state/file-urls.ts), so every check sees the room as it is then.
 */
export function chat<S>(
  ctx: RoomContext<S>,
  sender: Sender<S>,
  frame: ClientFrameOf<"chat">,
): Answer | Promise<Answer> {
  // §11.2: a chat with files may have no text.
  const check = checkText(frame.text, ctx.limits.maxMessageChars, frame.files !== undefined);
  if (!check.ok) return errorFrame(check.code, check.message);
  const history = ctx.history;
  const { member } = sender.membership;
  const author = memberId(member);
  if (frame.id !== undefined) {
    // A retry of a message already stored: the sender alone gets the
    // original again, and it costs no rate token.
    const original = history.findByClientId(author, frame.id);
    if (original !== undefined) return ctx.urls.signed([original], ([out]) => out);
  }
  if (frame.replyTo !== undefined) {
    const target = history.get(frame.replyTo);
    if (!target || target.deleted) return errorFrame("not_found", "The message this one answers is not in the room.");
  }
  const files = frame.files === undefined ? undefined : ctx.files.claim(frame.files, author, ctx.now());
  if (frame.files !== undefined) {
    if (!files)
      return errorFrame("not_found", "Attach only your own uploads to this room that no message carries yet.");
    const signing = ctx.urls.ready(frame.files);
    if (signing) return signing.then(() => chat(ctx, sender, frame));
  }
  const muted = ctx.mutedError(sender.membership);
  if (muted) return muted;
  const now = ctx.now();
  // Slow mode holds members and guests, never moderators and admins; a
  // guest also by address, so a new name does not start a new wait.
  const slowmode = ctx.sanctions.slowmode;
  const slowKeys =
    slowmode > 0 && !isStaff(member.role)
      ? member.user === undefined
        ? [author, `address:${sender.membership.address}`]
        : [author]
      : [];
  const wait = slowKeys.length > 0 ? ctx.budgets.slowWait(slowKeys, slowmode, now) : 0;
  if (wait > 0) return errorFrame("slow_mode", undefined, { retry_after: wait });
  if (!ctx.spend(sender)) return errorFrame("rate_limited");
  if (slowKeys.length > 0) ctx.budgets.slowSpent(slowKeys, slowmode, now);
  const mentions = mentionsIn(ctx, frame.text);
  // Storage first, then the broadcast: the output gate holds these sends
  // until the write is durable, so no client ever sees a message that a
  // crash could take back.
  const stored = history.append(
    {
      room: ctx.room,
      name: member.name,
      user: member.user,
      text: frame.text,
      ts: now,
      id: frame.id,
      replyTo: frame.replyTo,
      files,
      mentions,
    },
    author,
  );
  const seq = history.latestSeq;
  if (files) ctx.files.attach(frame.files ?? [], seq);
  wroteOwn(ctx, sender.membership, seq);
  if (mentions.length > 0) mentioned(ctx, seq, { ...member, ts: now }, frame.text, mentions);
  ctx.broadcast(files ? ctx.urls.out(stored) : stored);
  // A ring-only room (§8.1, retention 0) just dropped its oldest message; its files go with it.
  if (ctx.limits.historyRetentionMs === 0 && ctx.files.orphaned(history.oldestSeq)) ctx.sweepFiles(ctx.now());
  return undefined;
}

/** Checks, in order: bad_message/too_long, no_such_user, muted, rate_limited. */
export function dm<S>(ctx: RoomContext<S>, sender: Sender<S>, frame: ClientFrameOf<"dm">): Answer {
  const check = checkText(frame.text, ctx.limits.maxMessageChars);
  if (!check.ok) return errorFrame(check.code, check.message);
  const target = ctx.members.holder(nameKeys(frame.to.trim()));
  if (!target) return errorFrame("no_such_user");
  const muted = ctx.mutedError(sender.membership);
  if (muted) return muted;
  if (!ctx.spend(sender)) return errorFrame("rate_limited");
  const { name: from, user } = sender.membership.member;
  const text = encode({
    type: "dm",
    from,
    ...(user === undefined ? {} : { user }),
    to: target.member.name,
    text: frame.text,
    ts: ctx.now(),
  });
  // Every socket of the target (§5.3); the echo is the sender's answer, so
  // a dm to oneself arrives once on each socket. A target who is away
  // within their grace has no socket: a dm is not stored, so it is lost
  // as it would be on a dying connection.
  for (const to of target.sockets) if (to !== sender.socket) ctx.send(to, text);
  return text;
}

/**
 * One relayed per member per TYPING_INTERVAL_MS; the rest are dropped
 * silently (the next keystroke sends another). Not to the typist's own
 * sockets: their other tabs know.
 */
export function typing<S>(ctx: RoomContext<S>, sender: Sender<S>): Answer {
  const muted = ctx.mutedError(sender.membership);
  if (muted) return muted;
  const { member } = sender.membership;
  if (ctx.budgets.typing(memberId(member), ctx.now())) {
    // §9.3: version-3 sockets in a large room get no typing at all.
    const only = ctx.presence.large ? 2 : undefined;
    ctx.broadcast(encode({ type: "typing", room: ctx.room, ...person(member) }), sender.membership, only);
  }
  return undefined;
}

/** Gives the name back; the socket stays open unjoined, and the join timeout counts from now. */
export function leave<S>(ctx: RoomContext<S>, sender: Sender<S>): Answer {
  const now = ctx.now();
  sender.state.idleSince = now;
  const departure = ctx.members.leave(sender.socket);
  if (departure.kind === "left") ctx.departed(departure.membership);
  ctx.unjoined(now);
  return undefined;
}

/** GET /api/rooms/:room (§4), less the room's name. */
export function snapshot<S>(ctx: RoomContext<S>): RoomSnapshot {
  const history = ctx.history;
  return { users: ctx.members.names(), seq: history.latestSeq, history: history.size };
}

/** GET /api/rooms/:room/messages (§4, §7.4): serialized chat frames with `v > since`, at most `limit`. */
export function messagesSince<S>(ctx: RoomContext<S>, since: number, limit: number): string[] | Promise<string[]> {
  return ctx.urls.signed(ctx.history.page(since, limit), (frames) => frames);
}

/**
 * A message from outside (a bot, a CI job): stored and broadcast like a
 * chat, marked `bot`. The name follows join's rules and may not be one a
 * joined user holds, so a bot cannot speak as a person in the room.
 */
export function publish<S>(ctx: RoomContext<S>, name: string, text: string): PublishResult {
  const claimed = normalizeName(name, ctx.limits.maxNameChars);
  if (!claimed.ok) return { ok: false, code: "name_invalid", message: claimed.message };
  if (ctx.members.holder(claimed.keys)) {
    return { ok: false, code: "name_taken", message: "A user in the room holds that name." };
  }
  const check = checkText(text, ctx.limits.maxMessageChars);
  if (!check.ok) return check;
  const ts = ctx.now();
  const mentions = mentionsIn(ctx, text);
  const frame = ctx.history.append({ room: ctx.room, name: claimed.name, text, ts, bot: true, mentions }, null);
  mentioned(ctx, ctx.history.latestSeq, { name: claimed.name, ts }, text, mentions);
  ctx.broadcast(frame);
  return { ok: true, frame };
}
