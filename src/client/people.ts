/**
 * Who is here (protocol §9): the people list, its count, and the direct
 * message picker. Pick a person for a direct message; Esc goes back to
 * everyone. Verified users (§5.2: frames about them carry `user`) get a
 * mark guests cannot have, since a guest can pick any free name but never a
 * `user`.
 *
 * In a small room the page knows everyone: the welcome's `members`, kept
 * up to date by `presence` frames (the rule in src/shared/presence.ts), and
 * "Find people" filters that list. In a large room (§9.3) it knows only the
 * count: the list is loaded on demand, a page at a time through `members`
 * (§9.4), by name, and "Find people" asks for names with that prefix.
 */

import { applyPresence, type PresenceFrame } from "../shared/presence";
import { hasNamePrefix } from "../shared/protocol";
import type { MemberEntry, ServerFrameOf, WelcomeFrame } from "../shared/server-frames";
import type { ChatConnection } from "./connection";
import { bdi, isolate } from "./dom";
import type { Moderation } from "./moderation";
import type { View } from "./view";

/** Names per `members` page: a screenful or two, well inside READS_PER_MINUTE while scrolling. */
const PAGE = 50;
/** How long typing in "Find people" pauses before a large room is asked. */
const FILTER_PAUSE_MS = 250;

/** A `members` page: the cursor it is asked after (none for the first) and where it begins in the list. */
interface Page {
  after?: string;
  from: number;
}

export interface People {
  /** A welcome: everyone (or, in a large room, the count). */
  welcomed(welcome: WelcomeFrame, me: string): void;
  /** A batch of comings and goings, or a new count (§9.2, §9.3). */
  heard(frame: PresenceFrame): void;
  /** The answer to this page's `members` request (§9.4). */
  answered(frame: ServerFrameOf<"members">): void;
  failed(message: string): void;
  /** Draws the list again (after the viewer's role is known). */
  redraw(): void;
  /** A new room: nobody yet. */
  reset(): void;
  /** The person direct messages go to, if one is picked. */
  dmTarget(): string | undefined;
  closeDm(): void;
}

export function mountPeople(
  { ui, keys }: View,
  connection: () => ChatConnection | undefined,
  moderation: Moderation,
): People {
  let me: string | undefined;
  let dmTo: string | undefined;
  let roster: MemberEntry[] = [];
  let count = 0;
  let large = false;
  /** A large room's names loaded so far for the current filter, and the cursor for more. */
  let listed: MemberEntry[] = [];
  let next: string | null = null;
  /**
   * The last page loaded: the cursor it was asked after and where it
   * begins in `listed`. When the count moves and the list had reached its
   * end, that page is asked for again: a page that came back full with no
   * `next` (exactly PAGE names then) may have more after it now.
   */
  let tail: Page = { from: 0 };
  /** The `members` request in flight: the connection answers reads one at a time, in order. */
  let asked: { page: Page; prefix: string } | undefined;
  /** The count moved while a page was on its way: the last page is asked again once it is in. */
  let again = false;
  let pause: ReturnType<typeof setTimeout> | undefined;

  const openDm = (name: string): void => {
    dmTo = name;
    ui.dmName.textContent = name;
    ui.dmTarget.hidden = false;
    ui.sendForm.classList.add("is-dm");
    ui.message.focus();
  };

  const closeDm = (): void => {
    dmTo = undefined;
    ui.dmTarget.hidden = true;
    ui.sendForm.classList.remove("is-dm");
  };

  ui.dmClose.addEventListener("click", () => {
    closeDm();
    ui.message.focus();
  });
  keys.addEventListener("keydown", (event) => {
    if (event instanceof KeyboardEvent && event.key === "Escape" && dmTo !== undefined) closeDm();
  });

  const row = ({ name, user }: MemberEntry): HTMLElement => {
    const li = document.createElement("li");
    li.dataset.name = name;
    if (name === me) {
      li.replaceChildren(bdi(name), " (you)");
      li.className = "me";
    } else {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "person";
      button.textContent = name;
      button.title = `Direct message to ${isolate(name)}`;
      button.addEventListener("click", () => openDm(name));
      li.append(button);
    }
    if (user !== undefined) li.append(verifiedMark(user));
    if (name !== me && moderation.allowed()) {
      const menu = document.createElement("button");
      menu.type = "button";
      menu.className = "moderate";
      menu.textContent = "⋯";
      menu.setAttribute("aria-label", `Moderate ${name}`);
      menu.title = `Kick, mute or ban ${isolate(name)}`;
      menu.addEventListener("click", () => moderation.open(name));
      li.append(menu);
    }
    return li;
  };

  const filter = () => ui.peopleFilter.value.trim();

  const render = (status = "") => {
    ui.count.textContent = `(${count})`;
    const shown = large ? listed : roster.filter((m) => hasNamePrefix(m.name, filter()));
    ui.users.replaceChildren(...shown.map(row));
    ui.peopleMore.hidden = !large || next === null;
    ui.peopleStatus.textContent = status || (shown.length === 0 && filter() !== "" ? "Nobody here by that name." : "");
    ui.peopleHint.textContent = large
      ? `${count} people here. Find someone by name for a direct message.`
      : "Pick someone for a direct message.";
  };

  /**
   * Asks a large room for names with the filter's prefix: the first page,
   * the next one, or the last one loaded again (the count moved).
   */
  const load = (which: "first" | "more" | "last") => {
    if (!large) return;
    if (asked) {
      // One request at a time. A page further is asked once the end is
      // looked at again (lookAgain); a moved count, once this answer is in.
      again ||= which === "last";
      return;
    }
    const page: Page | undefined =
      which === "first"
        ? { from: 0 }
        : which === "last"
          ? tail
          : next === null
            ? undefined
            : { after: next, from: listed.length };
    if (page === undefined) return;
    const prefix = filter();
    const frame = {
      type: "members" as const,
      limit: PAGE,
      ...(prefix === "" ? {} : { prefix }),
      ...(page.after === undefined ? {} : { after: page.after }),
    };
    if (!connection()?.read(frame)) return render("Not connected; the list loads when the chat is back.");
    asked = { page, prefix };
    render("Loading…");
  };

  ui.peopleFilter.addEventListener("input", () => {
    if (!large) return render();
    clearTimeout(pause);
    pause = setTimeout(() => load("first"), FILTER_PAUSE_MS);
  });
  ui.peopleMore.addEventListener("click", () => load("more"));
  // Scrolling the list to its end loads the next page by itself.
  const atEnd = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting) && !ui.peopleMore.hidden) load("more");
    },
    { root: ui.peopleList },
  );
  atEnd.observe(ui.peopleMore);
  /**
   * The observer speaks only when the end comes into view or leaves it. A
   * scroll to the end while another page was on its way is not asked
   * (one request at a time), and the end stays in view: observing afresh
   * reports where it is now, as archive.ts does for the top.
   */
  const lookAgain = () => {
    atEnd.unobserve(ui.peopleMore);
    atEnd.observe(ui.peopleMore);
  };

  const toLarge = () => {
    large = true;
    roster = [];
    listed = [];
    next = null;
    tail = { from: 0 };
    load("first");
  };

  return {
    dmTarget: () => dmTo,
    closeDm,
    welcomed(welcome, name) {
      me = name;
      count = welcome.count ?? welcome.members?.length ?? 0;
      asked = undefined;
      again = false;
      if (welcome.large) toLarge();
      else {
        large = false;
        roster = welcome.members ?? [];
      }
      render();
    },
    heard(frame) {
      const moved = frame.count !== count;
      count = frame.count;
      if (frame.large === true) return toLarge();
      if (frame.large === false) large = false;
      // A large room's list loaded to its end has no cursor to go on from:
      // when the count moves, its last page is asked for again (at most
      // once per OCCUPANCY_INTERVAL_MS, as the counts come).
      if (large && moved && next === null) return load("last");
      if (!large) {
        roster = applyPresence(roster, frame);
        if (dmTo !== undefined && frame.left.some((m) => m.name === dmTo)) closeDm();
      }
      render();
    },
    answered(frame) {
      const request = asked;
      asked = undefined;
      if (!request || !large) return;
      count = frame.count;
      // The filter changed while this page was on its way: ask for what is typed now.
      if (request.prefix !== filter()) {
        again = false;
        return load("first");
      }
      // The page replaces whatever was listed from where it begins (all of it, for a first page).
      listed = [...listed.slice(0, request.page.from), ...frame.members];
      next = frame.next;
      tail = request.page;
      render();
      // Or the count moved meanwhile and this was the end: the last page again.
      const moved = again;
      again = false;
      if (moved && next === null) load("last");
      else if (next !== null) lookAgain();
    },
    failed(message) {
      if (!asked) return;
      asked = undefined;
      render(message);
    },
    redraw: () => render(),
    reset() {
      me = undefined;
      roster = [];
      listed = [];
      count = 0;
      large = false;
      asked = undefined;
      again = false;
      ui.peopleFilter.value = "";
      closeDm();
      render();
    },
  };
}

/** The mark of a signed-in user, with their id for whoever hovers or focuses it. */
export function verifiedMark(user: string): HTMLElement {
  const mark = document.createElement("span");
  mark.className = "verified";
  mark.textContent = "✓";
  mark.title = `Signed in (${isolate(user)})`;
  mark.setAttribute("aria-label", "signed in");
  return mark;
}
