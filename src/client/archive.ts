/**
 * Older messages (protocol §8.2): scrolling to the top of the conversation
 * loads the page before the oldest one shown (with "Loading…" on the way
 * and "This is the beginning" at the end), and a search result that is not
 * on the page is shown in context (`history` with `after`), with a way back
 * to the latest messages. The conversation is then an earlier stretch of
 * the room: new chats are counted, not drawn, until the reader goes back.
 */
import type { ClientFrameOf } from "../shared/protocol";
import type { ServerFrameOf } from "../shared/server-frames";
import type { ChatConnection } from "./connection";
import type { Conversation } from "./conversation";
import type { Messages } from "./messages";
import type { View } from "./view";

/** A result is shown with up to this many seqs before it (changes take seqs too, so fewer messages). */
const CONTEXT_BEFORE = 10;
const CONTEXT_PAGE = 40;

type Asked = { kind: "older" } | { kind: "context"; seq: number } | { kind: "latest" };
type HistoryFrame = ServerFrameOf<"history">;

export interface Archive {
  /** Whether the conversation shows the room's latest messages (new chats are drawn). */
  readonly live: boolean;
  /** A chat arrived while an earlier stretch is shown. */
  missed(): void;
  showInContext(seq: number): void;
  answered(frame: HistoryFrame): void;
  failed(message: string): void;
  /** A new room, or a rejoin: back to the latest messages, nothing asked. */
  reset(): void;
}

export function mountArchive(
  { ui, scroller }: View,
  connection: () => ChatConnection | undefined,
  conversation: Conversation,
  messages: Messages,
): Archive {
  let asked: Asked | undefined;
  let beginning = false;
  let live = true;
  let missedCount = 0;

  const edge = (state: "idle" | "loading" | "beginning") => {
    ui.historyEdge.dataset.state = state;
    ui.historyState.textContent =
      state === "loading" ? "Loading…" : state === "beginning" ? "This is the beginning." : "";
    ui.loadOlder.hidden = state !== "idle";
  };

  const ask = (want: Asked, frame: ClientHistory): boolean => {
    if (asked || !connection()?.read({ type: "history", ...frame })) return false;
    asked = want;
    return true;
  };

  const loadOlder = () => {
    if (beginning || asked || ui.chat.hidden) return;
    const oldest = messages.firstShownSeq();
    if (ask({ kind: "older" }, oldest === undefined ? {} : { before: oldest })) edge("loading");
  };

  // Reaching the top loads the page before: the edge above the first message comes into view.
  const atTop = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  });
  atTop.observe(ui.historyEdge);
  /**
   * The observer speaks only when the edge comes into view or leaves it. An
   * edge still in view after a page (a short page, a tall window, or an
   * edge that came into view while that page was loading) would never speak
   * again: observing afresh reports where it is now.
   */
  const lookAgain = () => {
    atTop.unobserve(ui.historyEdge);
    atTop.observe(ui.historyEdge);
  };
  ui.loadOlder.addEventListener("click", loadOlder);
  ui.backToLive.addEventListener("click", () => {
    if (ask({ kind: "latest" }, {})) ui.contextWhat.textContent = "Loading the latest messages…";
  });

  const redraw = (frame: HistoryFrame) => {
    conversation.clear();
    messages.clear();
    for (const chat of frame.messages) messages.show(chat);
  };

  return {
    get live() {
      return live;
    },
    missed() {
      missedCount++;
      ui.contextWhat.textContent = `Showing an earlier part of the conversation; ${missedCount} new since.`;
    },
    showInContext(seq) {
      if (live && messages.flash(seq)) return;
      ask({ kind: "context", seq }, { after: Math.max(0, seq - CONTEXT_BEFORE), limit: CONTEXT_PAGE });
    },
    answered(frame) {
      const was = asked;
      asked = undefined;
      if (was?.kind === "older") {
        // Drawn above what the reader sees: the view keeps its place.
        const page = scroller();
        const fromBottom = page.scrollHeight - page.scrollTop;
        for (const chat of frame.messages) if (!messages.messageOf(chat.seq)) messages.show(chat);
        page.scrollTop = page.scrollHeight - fromBottom;
        beginning = !frame.more;
        edge(beginning ? "beginning" : "idle");
        if (!beginning) lookAgain();
      } else if (was?.kind === "context") {
        redraw(frame);
        live = false;
        missedCount = 0;
        beginning = false;
        edge("idle");
        ui.contextWhat.textContent = "Showing an earlier part of the conversation.";
        ui.contextBar.hidden = false;
        ui.jump.hidden = true;
        messages.flash(was.seq);
      } else if (was?.kind === "latest") {
        redraw(frame);
        live = true;
        beginning = !frame.more;
        edge(beginning ? "beginning" : "idle");
        ui.contextBar.hidden = true;
        ui.outbox.scrollIntoView({ block: "end" });
        ui.message.focus();
      }
    },
    failed(message) {
      if (!asked) return;
      asked = undefined;
      edge("idle");
      ui.historyState.textContent = message;
    },
    reset() {
      asked = undefined;
      beginning = false;
      live = true;
      ui.contextBar.hidden = true;
      edge("idle");
    },
  };
}

/** A `history` frame's fields (the wire module's type). */
type ClientHistory = Omit<ClientFrameOf<"history">, "type">;
