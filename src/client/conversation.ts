/**
 * The conversation: direct messages, notices and the outbox, the item every
 * message is drawn in (messages.ts draws the room's messages), and keeping
 * the reader's place. User text reaches the page only through
 * textContent, never as HTML, and the CSP in public/_headers forbids inline
 * script, so a message such as `<img src=x onerror=…>` is shown as those
 * characters.
 */

import type { PresenceFrame } from "../shared/presence";
import type { ServerFrameOf } from "../shared/server-frames";
import type { Pending } from "./connection";
import { bdi, type Sentence } from "./dom";
import type { View } from "./view";

const NEAR_BOTTOM_PX = 48;
/** Notices (joins, leaves, gaps) kept in the conversation; older ones are removed. */
const NOTICE_LIMIT = 100;

export interface Conversation {
  clear(): void;
  dm(dm: ServerFrameOf<"dm">, me: string | undefined): void;
  /** Chats waiting to be confirmed, shown as "sending"; changes in flight are not drawn. */
  outbox(pending: readonly Pending[], me: string | undefined): void;
  notice(text: string | Sentence): HTMLLIElement;
  presence(frame: PresenceFrame): void;
  /** Adds an item at the end, keeping the reader's place (or following the newest). */
  append(item: HTMLElement): void;
}

export function mountConversation({ ui, scroller, scrollEvents }: View): Conversation {
  /**
   * Joins and leaves in a row share one notice line ("Ann and 12 others
   * joined · Ben left") until a message comes between them, so a busy door
   * (or a flood) is one line that changes, not a line per event.
   */
  let presenceLine: { item: HTMLElement; joined: Set<string>; left: Set<string> } | undefined;

  /** The reader is at the end of the conversation (so new messages may scroll it). */
  const nearBottom = (): boolean => {
    const el = scroller();
    return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
  };

  /** Scrolls to the newest message, unless the reader had scrolled up: then offer a button. */
  const stickToBottom = (follow: boolean): void => {
    if (follow) {
      ui.outbox.scrollIntoView({ block: "end" });
      ui.jump.hidden = true;
    } else {
      ui.jump.hidden = false;
    }
  };

  const append = (item: HTMLElement): void => {
    const follow = nearBottom();
    ui.messages.append(item);
    stickToBottom(follow);
  };

  const notice = (text: string | Sentence): HTMLLIElement => {
    const item = document.createElement("li");
    item.className = "notice";
    if (typeof text === "string") item.textContent = text;
    else item.replaceChildren(...text);
    append(item);
    // Only so many notices are kept: the oldest go first, messages stay.
    const notices = ui.messages.querySelectorAll(":scope > .notice");
    for (let i = 0; i < notices.length - NOTICE_LIMIT; i++) notices[i]?.remove();
    return item;
  };

  ui.jump.addEventListener("click", () => stickToBottom(true));
  scrollEvents.addEventListener("scroll", () => {
    if (nearBottom()) ui.jump.hidden = true;
  });

  return {
    append,
    notice,
    clear() {
      ui.messages.replaceChildren();
      ui.outbox.replaceChildren();
      presenceLine = undefined;
    },
    dm(dm, me) {
      const mine = dm.from === me;
      const item = messageItem(mine ? ["You → ", bdi(dm.to)] : [bdi(dm.from), " → you"], dm.text, dm.ts);
      item.classList.add("dm");
      if (mine) item.classList.add("mine");
      append(item);
    },
    outbox(pending, me) {
      ui.outbox.replaceChildren(
        ...pending
          .flatMap((p) => (p.kind === "chat" ? [p] : []))
          .map((p) => {
            const item = messageItem(me ?? "", p.text, Date.now());
            item.classList.add("mine", "pending");
            return item;
          }),
      );
      stickToBottom(true);
    },
    presence(frame) {
      if (!presenceLine || ui.messages.lastElementChild !== presenceLine.item) {
        presenceLine = { item: notice(""), joined: new Set(), left: new Set() };
      }
      const { joined, left } = presenceLine;
      // In a large room (§9.3) nobody is named: the line says how many are here.
      if (frame.joined.length === 0 && frame.left.length === 0) {
        presenceLine.item.replaceChildren(frame.count === 1 ? "1 person here" : `${frame.count} people here`);
        return;
      }
      for (const who of frame.joined) joined.add(who.name);
      for (const who of frame.left) left.add(who.name);
      const parts: Array<string | Node> = [];
      if (joined.size > 0) parts.push(...people(joined), " joined");
      if (left.size > 0) parts.push(...(joined.size > 0 ? [" · "] : []), ...people(left), " left");
      presenceLine.item.replaceChildren(...parts);
    },
  };
}

export function messageItem(who: string | Sentence, text: string, ts: number): HTMLLIElement {
  const item = document.createElement("li");
  item.className = "msg";
  const head = document.createElement("div");
  head.className = "meta";
  const sender = document.createElement("span");
  sender.className = "who";
  if (typeof who === "string") sender.textContent = who;
  else sender.replaceChildren(...who);
  const time = document.createElement("time");
  const date = new Date(ts);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  head.append(sender, time);
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;
  item.append(head, body);
  return item;
}

/** "Ann", "Ann and Ben", "Ann and 12 others". */
function people(names: Set<string>): Sentence {
  const [first = "", second = ""] = names;
  if (names.size === 1) return [bdi(first)];
  if (names.size === 2) return [bdi(first), " and ", bdi(second)];
  return [bdi(first), ` and ${names.size - 1} others`];
}
