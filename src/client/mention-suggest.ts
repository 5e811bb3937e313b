/**
 * Typing `@` in the message box offers names (protocol §10.2): the room's
 * members whose names start with what follows the `@`, asked of the room
 * as a §9.4 `members` page with that prefix (so it works in a room of
 * thousands), at most SUGGESTIONS of them. Choosing one (a click, or
 * Enter/Tab on the first) writes `@Name ` in place.
 */
import type { MemberEntry, ServerFrameOf } from "../shared/server-frames";
import type { ChatConnection } from "./connection";
import type { ReadFrame } from "./connection-types";
import type { View } from "./view";

const SUGGESTIONS = 6;
/** An `@` and up to 32 characters without another `@` or line break, right before the caret. */
const TYPED = /@([^@\n]{0,32})$/u;

export interface MentionSuggest {
  /** Whether `asked` is this module's own request (connection.ts passes it back with the answer). */
  owns(asked: ReadFrame | undefined): boolean;
  answered(frame: ServerFrameOf<"members">): void;
  close(): void;
}

export function mountMentionSuggest({ ui }: View, connection: () => ChatConnection | undefined): MentionSuggest {
  const list = document.createElement("ul");
  list.id = "mention-suggestions";
  list.className = "mention-suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "People to mention");
  list.hidden = true;
  ui.message.after(list);
  let asked: ReadFrame | undefined;
  let typed: { start: number; prefix: string } | undefined;

  ui.message.addEventListener("input", () => {
    const caret = ui.message.selectionStart ?? ui.message.value.length;
    const match = TYPED.exec(ui.message.value.slice(0, caret));
    if (!match || match[1] === undefined || /^\s/.test(match[1])) return close();
    typed = { start: caret - match[0].length, prefix: match[1] };
    const frame: ReadFrame = { type: "members", prefix: match[1], limit: SUGGESTIONS };
    if (connection()?.read(frame)) asked = frame;
  });

  ui.message.addEventListener("keydown", (event) => {
    if (list.hidden || (event.key !== "Enter" && event.key !== "Tab")) return;
    const first = list.querySelector<HTMLElement>("[role=option]");
    if (!first) return;
    event.preventDefault();
    first.click();
  });

  function choose(who: MemberEntry): void {
    if (!typed) return;
    const caret = typed.start + 1 + typed.prefix.length;
    const value = ui.message.value;
    ui.message.value = `${value.slice(0, typed.start)}@${who.name} ${value.slice(caret)}`;
    const at = typed.start + who.name.length + 2;
    ui.message.setSelectionRange(at, at);
    ui.message.focus();
    close();
  }

  function close(): void {
    typed = undefined;
    list.hidden = true;
    list.replaceChildren();
  }

  return {
    owns: (frame) => frame !== undefined && frame === asked,
    answered(frame) {
      asked = undefined;
      if (!typed) return;
      const options = frame.members.map((who) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.textContent = who.name;
        li.tabIndex = -1;
        // mousedown, not click: the message box keeps its focus and caret.
        li.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(who);
        });
        li.addEventListener("click", () => choose(who));
        return li;
      });
      list.replaceChildren(...options);
      list.hidden = options.length === 0;
    },
    close,
  };
}
