/**
 * Who is typing: a line under the conversation, from `typing` frames, each
 * notice kept for a few seconds after the last one. A room's version-3
 * sockets get no typing once the room is large (§9.3), so there the line
 * simply stays empty.
 */
import type { ServerFrameOf } from "../shared/server-frames";
import { bdi } from "./dom";
import type { View } from "./view";

/** How long a typing notice stays after the last `typing` frame. */
const TYPING_SHOWN_MS = 4000;

export interface Typing {
  someone(frame: ServerFrameOf<"typing">): void;
  /** A chat from `name` ends their typing notice. */
  stopped(name: string): void;
}

export function mountTyping({ ui }: View): Typing {
  /** name → when their typing notice expires */
  const typers = new Map<string, number>();

  const render = (): void => {
    const now = Date.now();
    for (const [name, until] of typers) if (until <= now) typers.delete(name);
    const names = [...typers.keys()];
    const [first = ""] = names;
    if (names.length === 0) ui.typing.replaceChildren();
    else if (names.length === 1) ui.typing.replaceChildren(bdi(first), " is typing…");
    else if (names.length <= 3) {
      ui.typing.replaceChildren(...names.flatMap((n, i) => (i === 0 ? [bdi(n)] : [", ", bdi(n)])), " are typing…");
    } else ui.typing.replaceChildren("Several people are typing…");
  };

  return {
    someone({ name }) {
      typers.set(name, Date.now() + TYPING_SHOWN_MS);
      render();
      setTimeout(render, TYPING_SHOWN_MS + 50);
    },
    stopped(name) {
      typers.delete(name);
      render();
    },
  };
}
