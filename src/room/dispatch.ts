/**
 * The dispatch table: each frame type a joined socket may send, and the
 * handler of the feature that owns it. A new feature adds its frame types
 * here; the mapped types make a missing or mistyped handler a type error.
 */
import type { ClientFrame } from "../shared/protocol";
import type { Answer, Handler, RoomContext, Sender } from "./context";
import { edit, react, remove } from "./features/edits";
import { history, search } from "./features/history";
import { chat, dm, leave, typing } from "./features/messages";
import { moderationFrame } from "./features/moderation";
import { read } from "./features/reads";
import { members } from "./features/roster-pages";

/** Every frame a joined socket may send, by type. */
type MemberFrame = Exclude<ClientFrame, { type: "join" | "ping" }>;
type FrameOf = { [T in MemberFrame["type"]]: Extract<MemberFrame, { type: T }> };
type Handlers<S> = { [T in MemberFrame["type"]]: Handler<S, FrameOf[T]> };

/** The dispatch table: each frame type's handler, in the feature that owns it. */
export function handlers<S>(): Handlers<S> {
  return {
    chat,
    dm,
    typing: (ctx, sender) => typing(ctx, sender),
    leave: (ctx, sender) => leave(ctx, sender),
    edit,
    delete: remove,
    react,
    history,
    search,
    members,
    read,
    kick: moderationFrame,
    ban: moderationFrame,
    unban: moderationFrame,
    mute: moderationFrame,
    unmute: moderationFrame,
    slowmode: moderationFrame,
  };
}

/** Looks the handler up by the frame's own type; the mapped types keep frame and handler in step. */
export function dispatch<S, T extends MemberFrame["type"]>(
  table: Handlers<S>,
  ctx: RoomContext<S>,
  sender: Sender<S>,
  frame: FrameOf[T],
): Answer | Promise<Answer> {
  const handler: Handler<S, FrameOf[T]> = table[frame.type as T];
  return handler(ctx, sender, frame);
}
