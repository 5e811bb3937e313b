/**
 * Who is here: the roster (pick a person for a direct message, Esc goes
 * back to everyone) and who is typing. Verified users (§5.2: frames about
 * them carry `user`) get a mark guests cannot have, since a guest can pick
 * any free name but never a `user`.
 */
import type { MemberEntry, ServerFrameOf } from "../shared/server-frames";
import { bdi, isolate, ui } from "./dom";
import { canModerate, openModeration } from "./moderation";

/** How long a typing notice stays after the last `typing` frame. */
const TYPING_SHOWN_MS = 4000;

let roster: MemberEntry[] = [];
let dmTo: string | undefined;
/** name → when their typing notice expires */
const typers = new Map<string, number>();

/** The person direct messages go to, if one is picked. */
export function dmTarget(): string | undefined {
  return dmTo;
}

export function setRoster(members: MemberEntry[], me: string | undefined): void {
  roster = members;
  ui.count.textContent = `(${members.length})`;
  ui.users.replaceChildren(
    ...members.map(({ name, user }) => {
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
      if (name !== me && canModerate()) {
        const menu = document.createElement("button");
        menu.type = "button";
        menu.className = "moderate";
        menu.textContent = "⋯";
        menu.setAttribute("aria-label", `Moderate ${name}`);
        menu.title = `Kick, mute or ban ${isolate(name)}`;
        menu.addEventListener("click", () => openModeration(name));
        li.append(menu);
      }
      return li;
    }),
  );
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

/** Draws the roster again (after the connection's role is known). */
export function redrawRoster(me: string | undefined): void {
  setRoster(roster, me);
}

export function joined(member: MemberEntry, me: string | undefined): void {
  setRoster([...roster, member], me);
}

export function left(name: string, me: string | undefined): void {
  setRoster(
    roster.filter((m) => m.name !== name),
    me,
  );
  if (dmTo === name) closeDm();
}

function openDm(name: string): void {
  dmTo = name;
  ui.dmName.textContent = name;
  ui.dmTarget.hidden = false;
  ui.sendForm.classList.add("is-dm");
  ui.message.focus();
}

export function closeDm(): void {
  dmTo = undefined;
  ui.dmTarget.hidden = true;
  ui.sendForm.classList.remove("is-dm");
}

ui.dmClose.addEventListener("click", () => {
  closeDm();
  ui.message.focus();
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && dmTo !== undefined) closeDm();
});

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
