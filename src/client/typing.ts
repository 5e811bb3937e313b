/**
 * Who is typing: a line under the conversation, from `typing` frames, each
 * notice kept for a few seconds after the last one. A room's version-3
 * sockets get no typing once the room is large (§9.3), so there the line
 * simply stays empty.
 */
import type { ServerFrameOf } from "../shared/server-frames";
import { bdi, ui } from "./dom";

/** How long a typing notice stays after the last `typing` frame. */
const TYPING_SHOWN_MS = 4000;

/** name → when their typing notice expires */
const typers = new Map<string, number>();

export function someoneTyping({ name }: ServerFrameOf<"typing">): void {
  typers.set(name, Date.now() + TYPING_SHOWN_MS);
  renderTyping();
  setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
}

/** A chat from `name` ends their typing notice. */
export function stoppedTyping(name: string): void {
  typers.delete(name);
  renderTyping();
}

function renderTyping(): void {
  const now = Date.now();
  for (const [name, until] of typers) if (until <= now) typers.delete(name);
  const names = [...typers.keys()];
  const [first = ""] = names;
  if (names.length === 0) ui.typing.replaceChildren();
  else if (names.length === 1) ui.typing.replaceChildren(bdi(first), " is typing…");
  else if (names.length <= 3) {
    ui.typing.replaceChildren(...names.flatMap((n, i) => (i === 0 ? [bdi(n)] : [", ", bdi(n)])), " are typing…");
  } else ui.typing.replaceChildren("Several people are typing…");
}
