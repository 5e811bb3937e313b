/**
 * The composer: the message box, its character counter, typing notices,
 * replying and editing (§7: the composer says what it is doing, Esc
 * stops), and sending a chat, a dm or an edit through the connection.
 */
import { DEFAULT_LIMITS } from "../shared/limits";
import { TYPING_INTERVAL_MS } from "../shared/protocol";
import { codePointLength } from "../shared/text";
import type { Attachments } from "./attachments";
import type { ChatConnection } from "./connection";
import type { ErrorFrame } from "./connection-types";
import { bdi } from "./dom";
import { excerpt, type Messages } from "./messages";
import { duration, until } from "./moderation";
import type { People } from "./people";
import type { View } from "./view";

/** The server's default; it enforces its own configured limit either way. */
const MAX_MESSAGE_CHARS = DEFAULT_LIMITS.maxMessageChars;
/** A little over the room's relay window, so every `typing` sent is relayed. */
const TYPING_SENT_EVERY_MS = TYPING_INTERVAL_MS + 500;

type Composing = { kind: "reply" | "edit"; seq: number } | undefined;

export interface Composer {
  /** Starts or stops replying to or editing a message. */
  setComposing(next: Composing): void;
  /** What a message's buttons do (messages.ts draws them). */
  messageActions: {
    reply(seq: number): void;
    edit(seq: number): void;
    remove(seq: number): void;
    react(seq: number, emoji: string): void;
  };
  /** The room refused what the composer sent (muted, slow mode, rate limited, too long, …): say so under the box. */
  refused(error: ErrorFrame): void;
}

/** Wires the composer to the page's current connection (none while in the lobby) and the files waiting to go (§11). */
export function mountComposer(
  { ui }: View,
  current: () => ChatConnection | undefined,
  attachments: Attachments,
  messages: Messages,
  people: People,
): Composer {
  let lastTypingSent = 0;
  let composing: Composing;
  let sendCountdown: ReturnType<typeof setInterval> | undefined;

  function updateCounter(): boolean {
    const n = codePointLength(ui.message.value);
    const over = n > MAX_MESSAGE_CHARS;
    ui.counter.textContent = n > MAX_MESSAGE_CHARS * 0.8 ? `${n} / ${MAX_MESSAGE_CHARS}` : "";
    ui.counter.classList.toggle("over", over);
    ui.message.setAttribute("aria-invalid", String(over));
    return over;
  }

  ui.message.addEventListener("input", () => {
    updateCounter();
    ui.sendError.textContent = "";
    const now = Date.now();
    const connection = current();
    if (
      connection &&
      people.dmTarget() === undefined &&
      ui.message.value &&
      now - lastTypingSent > TYPING_SENT_EVERY_MS
    ) {
      lastTypingSent = now;
      connection.typing();
    }
  });

  function setComposing(next: Composing): void {
    composing = next;
    const target = next ? messages.messageOf(next.seq) : undefined;
    ui.composeContext.hidden = !next || !target;
    if (!next || !target) return;
    if (next.kind === "edit") ui.composeWhat.textContent = "Editing your message";
    else ui.composeWhat.replaceChildren("Replying to ", bdi(target.name), ": “", bdi(excerpt(target.text)), "”");
    if (next.kind === "edit") {
      ui.message.value = target.text;
      updateCounter();
    }
    ui.message.focus();
  }

  /** Offline changes are refused where the person sees it, never dropped quietly. */
  function offline(what: string): void {
    ui.sendError.textContent = `You are offline: ${what} need a connection; try again in a moment.`;
  }

  const messageActions = {
    reply: (seq: number) => setComposing({ kind: "reply", seq }),
    edit: (seq: number) => setComposing({ kind: "edit", seq }),
    remove(seq: number) {
      const connection = current();
      if (!connection || !window.confirm("Delete this message for everyone? This cannot be undone.")) return;
      if (!connection.remove(seq)) offline("deletions");
    },
    react(seq: number, emoji: string) {
      const connection = current();
      if (connection && !connection.react(seq, emoji)) offline("reactions");
    },
  };

  ui.composeCancel.addEventListener("click", () => {
    if (composing?.kind === "edit") ui.message.value = "";
    setComposing(undefined);
  });

  ui.message.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && composing) {
      if (composing.kind === "edit") ui.message.value = "";
      setComposing(undefined);
      event.stopPropagation();
    } else if (event.key === "ArrowUp" && ui.message.value === "" && !composing) {
      // ↑ in an empty composer edits your last message, as in Slack and Discord.
      const last = messages.lastOwnMessage();
      if (last) {
        event.preventDefault();
        setComposing({ kind: "edit", seq: last.seq });
      }
    }
  });

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const connection = current();
    if (!connection) return;
    const text = ui.message.value;
    const files = attachments.ready();
    if (files === undefined) {
      ui.sendError.textContent = "Wait for your files to finish uploading.";
      return;
    }
    // §11.2: a message with files needs no text.
    if (!text.trim() && (files.length === 0 || composing?.kind === "edit")) return;
    if (updateCounter()) {
      ui.sendError.textContent = `A message may be at most ${MAX_MESSAGE_CHARS} characters.`;
      return;
    }
    if (composing?.kind === "edit") {
      if (!connection.edit(composing.seq, text)) return offline("edits");
      ui.message.value = "";
      setComposing(undefined);
      updateCounter();
      return;
    }
    const to = people.dmTarget();
    if (to !== undefined && files.length > 0) {
      ui.sendError.textContent = "Files go to the whole room: go back to everyone to send them.";
      return;
    }
    if (to !== undefined) {
      if (!connection.dm(to, text)) {
        ui.sendError.textContent = "Direct messages need a live connection; try again in a moment.";
        return;
      }
    } else if (!connection.chat(text, composing?.kind === "reply" ? composing.seq : undefined, files)) {
      ui.sendError.textContent = "Too many messages are waiting to be sent; wait for the connection.";
      return;
    }
    attachments.clear();
    ui.message.value = "";
    setComposing(undefined);
    updateCounter();
  });

  const refused = (error: ErrorFrame): void => {
    clearInterval(sendCountdown);
    switch (error.code) {
      case "muted":
        ui.sendError.textContent = `You are muted ${until(error.until)}; the message was not sent.`;
        return;
      case "slow_mode": {
        // Counts down to the moment the queued message goes out by itself.
        const at = Date.now() + (error.retry_after ?? 1000);
        const render = () => {
          const left = at - Date.now();
          ui.sendError.textContent = left > 0 ? `Slow mode: your message goes out in ${duration(left)}.` : "";
          if (left <= 0) clearInterval(sendCountdown);
        };
        render();
        sendCountdown = setInterval(render, 1000);
        return;
      }
      case "rate_limited":
        ui.sendError.textContent = `${error.message} Retrying…`;
        return;
      default:
        ui.sendError.textContent = error.message;
    }
  };

  return { setComposing, messageActions, refused };
}
