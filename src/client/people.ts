/**
 * Who is here: the roster (pick a person for a direct message, Esc goes
 * back to everyone) and who is typing.
 */
import { ui } from "./dom";

/** How long a typing notice stays after the last `typing` frame. */
const TYPING_SHOWN_MS = 4000;

let roster: string[] = [];
let dmTo: string | undefined;
/** name → when their typing notice expires */
const typers = new Map<string, number>();

/** The person direct messages go to, if one is picked. */
export function dmTarget(): string | undefined {
  return dmTo;
}

export function setRoster(names: string[], me: string | undefined): void {
  roster = names;
  ui.count.textContent = `(${names.length})`;
  ui.users.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement("li");
      if (name === me) {
        li.textContent = `${name} (you)`;
        li.className = "me";
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "person";
        button.textContent = name;
        button.title = `Direct message to ${name}`;
        button.addEventListener("click", () => openDm(name));
        li.append(button);
      }
      return li;
    }),
  );
}

export function joined(name: string, me: string | undefined): void {
  setRoster([...roster, name], me);
}

export function left(name: string, me: string | undefined): void {
  setRoster(
    roster.filter((n) => n !== name),
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

export function someoneTyping(name: string): void {
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
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length <= 3
          ? `${names.join(", ")} are typing…`
          : "Several people are typing…";
}
