/**
 * Read state on the page (protocol §10): messages are marked read as they
 * are seen (on screen, in a visible tab, never on arrival in a background
 * tab), a "New since you left" divider where unread began, "Seen by …"
 * under the last message in small rooms, and a browser notification for a
 * mention while the tab is hidden, once the user allowed it from a click.
 */
import type { PresenceFrame } from "../shared/presence";
import type { ChatFrame, ReadEntry, WelcomeFrame } from "../shared/server-frames";
import type { ChatConnection } from "./connection";
import type { Messages } from "./messages";
import type { View } from "./view";

/** At most one `read` per this interval: scrolling through a backlog sends one frame, not one per message. */
const READ_EVERY_MS = 1000;

export interface Reading {
  /** A welcome: the cursor it says, the divider, and the receipts of a small room. */
  welcomed(welcome: WelcomeFrame): void;
  /** A message was drawn: watched until it is seen. */
  shown(chat: ChatFrame): void;
  presence(frame: PresenceFrame): void;
  /** The cursor moved on another tab of this user. */
  cursor(seq: number): void;
  reset(): void;
}

export function mountReading(
  { ui }: View,
  connection: () => ChatConnection | undefined,
  messages: Messages,
  onRead: (seq: number) => void,
): Reading {
  let signedIn = false;
  let cursor = 0;
  let sent = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** user → their latest receipt (§10.1), in a room that is not large. */
  const receipts = new Map<string, ReadEntry>();
  /** Mentions already notified in this room. */
  const notified = new Set<number>();

  const seen = new IntersectionObserver((entries) => {
    if (document.visibilityState !== "visible") return;
    for (const entry of entries) {
      if (!entry.isIntersecting || !(entry.target instanceof HTMLElement)) continue;
      const seq = Number(entry.target.dataset.seq);
      if (seq > cursor) cursor = seq;
      seen.unobserve(entry.target);
    }
    schedule();
  });

  // A tab brought back to the front reads what is on screen then.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    for (const el of ui.messages.querySelectorAll<HTMLElement>(":scope > .msg")) {
      seen.unobserve(el);
      seen.observe(el);
    }
  });

  function schedule(): void {
    if (!signedIn || cursor <= sent || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (cursor > sent && connection()?.markRead(cursor)) {
        sent = cursor;
        onRead(cursor);
      }
    }, READ_EVERY_MS);
  }

  function drawSeenBy(): void {
    const all = ui.messages.querySelectorAll<HTMLElement>(":scope > .msg");
    const last = all[all.length - 1];
    const seq = Number(last?.dataset.seq ?? Number.NaN);
    const names = [...receipts.values()].filter((r) => r.seq >= seq).map((r) => r.name);
    ui.seenBy.textContent = names.length > 0 ? `Seen by ${names.join(", ")}` : "";
  }

  function divider(after: number): void {
    ui.messages.querySelector(":scope > .unread-divider")?.remove();
    const first = [...ui.messages.querySelectorAll<HTMLElement>(":scope > .msg:not(.mine)")].find(
      (el) => Number(el.dataset.seq) > after,
    );
    if (!first) return;
    const line = document.createElement("li");
    line.className = "unread-divider";
    line.setAttribute("role", "separator");
    line.textContent = "New since you left";
    first.before(line);
  }

  ui.notify.addEventListener("click", () => {
    // Asked from a click only: a permission prompt on load is refused by most people and some browsers.
    void Notification.requestPermission().then(showNotifyButton);
  });

  function showNotifyButton(): void {
    ui.notify.hidden = !signedIn || typeof Notification === "undefined" || Notification.permission !== "default";
  }

  return {
    welcomed(welcome) {
      signedIn = welcome.user !== undefined;
      cursor = welcome.lastRead ?? 0;
      sent = cursor;
      receipts.clear();
      for (const r of welcome.reads ?? []) receipts.set(r.user, r);
      showNotifyButton();
      // The welcome's history is drawn first (app.ts), so the divider finds its place.
      queueMicrotask(() => {
        if (signedIn && (welcome.unread ?? 0) > 0) divider(cursor);
        drawSeenBy();
      });
    },
    shown(chat) {
      const el = ui.messages.querySelector<HTMLElement>(`:scope > .msg[data-seq="${chat.seq}"]`);
      if (el && chat.seq > cursor) seen.observe(el);
      drawSeenBy();
      if (
        chat.seq > cursor &&
        !notified.has(chat.seq) &&
        messages.mentionsViewer(chat) &&
        document.visibilityState === "hidden" &&
        typeof Notification !== "undefined" &&
        Notification.permission === "granted"
      ) {
        // Once per message, also when a reconnect's welcome brings it again.
        notified.add(chat.seq);
        new Notification(`${chat.name} mentioned you`, { body: chat.text, tag: `edge-chat-${chat.room}-${chat.seq}` });
      }
    },
    presence(frame) {
      for (const r of frame.reads ?? []) receipts.set(r.user, r);
      if (frame.large) receipts.clear();
      drawSeenBy();
    },
    cursor(seq) {
      cursor = Math.max(cursor, seq);
      sent = Math.max(sent, seq);
      onRead(seq);
    },
    reset() {
      signedIn = false;
      cursor = 0;
      sent = 0;
      receipts.clear();
      notified.clear();
      seen.disconnect();
      ui.seenBy.textContent = "";
      showNotifyButton();
    },
  };
}
