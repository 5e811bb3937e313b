/**
 * The room's messages on the page, in their latest state (protocol §7):
 * each with its reply quote, "edited" mark, tombstone, reaction bar and a
 * row of actions (reply, react, edit, delete) that are ordinary buttons, so
 * everything is reachable by keyboard. The page keeps each message as the
 * room last described it and redraws that one item on every change.
 * Everything a person wrote is set with textContent.
 */
import { MAX_REACTION_EMOJI } from "../shared/protocol";
import type { ChatFrame, FileInfo, UpdateFrame } from "../shared/server-frames";
import { applyUpdate } from "../shared/updates";
import { type Conversation, messageItem } from "./conversation";
import { bdi, isolate } from "./dom";
import { verifiedMark } from "./people";
import { size } from "./uploads";
import { onServer, type View } from "./view";

/** The reactions the bar offers; any other emoji a message already has is shown too. */
export const QUICK_EMOJI = ["👍", "❤", "😂", "🎉", "😮", "😢"];

export interface Viewer {
  name?: string | undefined;
  user?: string | undefined;
  /** A moderator or admin: may delete anyone's message. */
  staff: boolean;
}

export interface MessageActions {
  reply(seq: number): void;
  edit(seq: number): void;
  remove(seq: number): void;
  react(seq: number, emoji: string): void;
}

export interface Messages {
  /** Who is reading, and what their buttons do: their own messages get Edit, staff get Delete. */
  setViewer(next: Viewer, on: MessageActions): void;
  clear(): void;
  /** The oldest message on the page (where paging back continues from). */
  firstShownSeq(): number | undefined;
  /** Scrolls a shown message into view, focuses it and flashes it (a reply quote, a search result). */
  flash(seq: number): boolean;
  messageOf(seq: number): ChatFrame | undefined;
  /** The viewer's newest message that can still be edited (for ↑ in an empty composer). */
  lastOwnMessage(): ChatFrame | undefined;
  /** Shows a message, or redraws it in place when it is already on the page (a rejoin's changed message). */
  show(chat: ChatFrame): void;
  /** Applies one change (§7.3) to the message it is about, by the protocol's one rule (src/shared/updates.ts). */
  update(update: UpdateFrame): void;
  /** Whether a chat mentions the viewer (§10.2): by `user` when signed in, by name as a guest. */
  mentionsViewer(chat: ChatFrame): boolean;
}

export function mountMessages(view: View, conversation: Conversation): Messages {
  const { ui } = view;
  let viewer: Viewer = { staff: false };
  let actions: MessageActions | undefined;
  const shown = new Map<number, ChatFrame>();

  function setViewer(next: Viewer, on: MessageActions): void {
    viewer = next;
    actions = on;
    // Own marks and permitted actions may have changed (a rejoin, a new role).
    for (const chat of shown.values()) redraw(chat);
  }

  function clearMessages(): void {
    shown.clear();
  }

  function firstShownSeq(): number | undefined {
    let first: number | undefined;
    for (const seq of shown.keys()) if (first === undefined || seq < first) first = seq;
    return first;
  }

  function flash(seq: number): boolean {
    const el = itemOf(seq);
    if (!el) return false;
    el.scrollIntoView({ block: "center" });
    el.focus();
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1500);
    return true;
  }

  function messageOf(seq: number): ChatFrame | undefined {
    return shown.get(seq);
  }

  function lastOwnMessage(): ChatFrame | undefined {
    return [...shown.values()].filter((m) => mine(m) && !m.deleted && !m.bot).at(-1);
  }

  function showMessage(chat: ChatFrame): void {
    shown.set(chat.seq, chat);
    if (itemOf(chat.seq)) {
      redraw(chat);
      return;
    }
    const item = render(chat);
    // Messages arrive in seq order, except old ones a rejoin brings back changed.
    const later = [...ui.messages.querySelectorAll<HTMLElement>(":scope > .msg[data-seq]")].find(
      (el) => Number(el.dataset.seq) > chat.seq,
    );
    if (later) later.before(item);
    else conversation.append(item);
  }

  function showUpdate(update: UpdateFrame): void {
    const chat = shown.get(update.target);
    if (!chat) return; // a message this page never showed (it left the history before we came)
    const next = applyUpdate(chat, update);
    shown.set(next.seq, next);
    redraw(next);
    // Replies quote it: their quotes follow the change.
    for (const reply of shown.values()) if (reply.replyTo === next.seq) redraw(reply);
  }

  function mine(chat: ChatFrame): boolean {
    if (chat.bot) return false;
    return chat.user !== undefined ? chat.user === viewer.user : viewer.user === undefined && chat.name === viewer.name;
  }

  function mentionsViewer(chat: ChatFrame): boolean {
    if (chat.deleted || !chat.mentions) return false;
    return chat.mentions.some((m) =>
      viewer.user !== undefined ? m.user === viewer.user : m.user === undefined && m.name === viewer.name,
    );
  }

  function itemOf(seq: number): HTMLElement | null {
    return ui.messages.querySelector<HTMLElement>(`:scope > .msg[data-seq="${seq}"]`);
  }

  function redraw(chat: ChatFrame): void {
    itemOf(chat.seq)?.replaceWith(render(chat));
  }

  function render(chat: ChatFrame): HTMLLIElement {
    const item = messageItem(chat.name, chat.deleted ? "message deleted" : chat.text, chat.ts);
    item.dataset.seq = String(chat.seq);
    item.tabIndex = -1;
    const meta = item.querySelector(".meta");
    if (chat.user !== undefined) item.querySelector(".who")?.after(verifiedMark(chat.user));
    if (mine(chat)) item.classList.add("mine");
    if (mentionsViewer(chat)) {
      // §10.2: a mention of the viewer stands out, and says so to a screen reader.
      item.classList.add("mentions-me");
      const said = document.createElement("span");
      said.className = "visually-hidden";
      said.textContent = " (mentions you)";
      item.querySelector(".who")?.after(said);
    }
    if (chat.bot) item.classList.add("bot");
    if (chat.edited !== undefined && !chat.deleted) {
      const edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = "edited";
      edited.title = `Edited ${new Date(chat.edited).toLocaleString()}`;
      meta?.append(edited);
    }
    if (chat.deleted) {
      item.classList.add("deleted");
      return item;
    }
    if (chat.replyTo !== undefined) meta?.after(replyQuote(chat.replyTo));
    if (chat.files && chat.files.length > 0) item.querySelector(".text")?.after(fileList(chat.files));
    const bar = reactionBar(chat);
    if (bar) item.append(bar);
    if (actions) item.append(actionRow(chat));
    return item;
  }

  /**
   * §11.2: images as thumbnails sized from their width and height before they
   * load (no jump), each opening full size; other files as a link with their
   * name, type and size.
   */
  function fileList(files: readonly FileInfo[]): HTMLElement {
    const list = document.createElement("div");
    list.className = "files";
    for (const file of files) {
      const link = document.createElement("a");
      // On the chat server, which is not the page's origin when embedded.
      link.href = onServer(view, file.url);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      if (file.width !== undefined && file.height !== undefined) {
        link.className = "file-image";
        link.title = `${file.name} (opens full size)`;
        const img = document.createElement("img");
        img.src = link.href;
        img.alt = file.name;
        img.width = file.width;
        img.height = file.height;
        img.loading = "lazy";
        link.append(img);
        list.append(link);
        continue;
      }
      link.className = "file-link";
      link.textContent = file.name;
      link.download = file.name;
      const meta = document.createElement("span");
      meta.className = "file-meta";
      meta.textContent = ` ${kindOf(file.type)} · ${size(file.size)}`;
      const row = document.createElement("span");
      row.className = "file";
      row.append("📄 ", link, meta);
      list.append(row);
    }
    return list;
  }

  function kindOf(type: string): string {
    return type === "application/pdf" ? "PDF" : type === "text/plain" ? "Text" : type;
  }

  /** "↪ Ann: the first words…", which jumps to the message it answers. */
  function replyQuote(target: number): HTMLElement {
    const quoted = shown.get(target);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reply-quote";
    if (quoted) {
      button.append("↪ ", bdi(quoted.name), ": ", quoted.deleted ? "message deleted" : bdi(excerpt(quoted.text)));
    } else {
      button.textContent = "↪ an earlier message";
    }
    button.title = "Show the message this answers";
    button.addEventListener("click", () => flash(target));
    return button;
  }

  function reactionBar(chat: ChatFrame): HTMLElement | undefined {
    const reactions = chat.reactions ?? {};
    const emoji = Object.keys(reactions);
    if (emoji.length === 0) return undefined;
    const bar = document.createElement("div");
    bar.className = "reactions";
    for (const e of emoji) {
      const summary = reactions[e];
      if (!summary) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "reaction";
      const me = viewer.name !== undefined && summary.names.includes(viewer.name);
      button.setAttribute("aria-pressed", String(me));
      button.append(bdi(e), ` ${summary.count}`);
      const others = summary.count - summary.names.length;
      button.title = `${summary.names.map(isolate).join(", ")}${others > 0 ? ` and ${others} more` : ""}`;
      button.setAttribute("aria-label", `${isolate(e)} ${summary.count}: ${button.title}`);
      button.addEventListener("click", () => actions?.react(chat.seq, e));
      bar.append(button);
    }
    return bar;
  }

  function actionRow(chat: ChatFrame): HTMLElement {
    const row = document.createElement("div");
    row.className = "actions";
    const button = (label: string, name: string, run: () => void) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "action";
      b.textContent = label;
      b.setAttribute("aria-label", `${name} (message from ${chat.name})`);
      b.addEventListener("click", run);
      row.append(b);
      return b;
    };
    button("Reply", "Reply", () => actions?.reply(chat.seq));
    const picker = document.createElement("span");
    picker.className = "picker";
    picker.hidden = true;
    const full = Object.keys(chat.reactions ?? {}).length >= MAX_REACTION_EMOJI;
    for (const e of QUICK_EMOJI) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "action";
      b.textContent = e;
      b.setAttribute("aria-label", `React ${e}`);
      b.disabled = full && chat.reactions?.[e] === undefined;
      b.addEventListener("click", () => {
        picker.hidden = true;
        actions?.react(chat.seq, e);
      });
      picker.append(b);
    }
    const react = button("React", "React", () => {
      picker.hidden = !picker.hidden;
      react.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) picker.querySelector("button")?.focus();
    });
    react.setAttribute("aria-expanded", "false");
    row.append(picker);
    if (mine(chat)) button("Edit", "Edit", () => actions?.edit(chat.seq));
    if (mine(chat) || viewer.staff) button("Delete", "Delete", () => actions?.remove(chat.seq));
    return row;
  }

  return {
    setViewer,
    clear: clearMessages,
    firstShownSeq,
    flash,
    messageOf,
    lastOwnMessage,
    show: showMessage,
    update: showUpdate,
    mentionsViewer,
  };
}

export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}
