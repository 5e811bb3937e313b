/**
 * The status pill: where the connection is (Connecting, Live, Reconnecting
 * in N s, Offline, ended and why), counting down to the next attempt.
 */
import type { State } from "./connection";
import type { Conversation } from "./conversation";
import { bdi, type Sentence } from "./dom";
import type { View } from "./view";

/** Who the page is in the room as, for the Live line. */
export interface Presence {
  room: string;
  name: string;
  verified: boolean;
}

export type ShowStatus = (state: State, detail: { retryAt?: number; reason?: string }, as: Presence) => void;

export function mountStatus({ ui }: View, conversation: Conversation): ShowStatus {
  let countdown: ReturnType<typeof setInterval> | undefined;
  return (state, detail, as) => {
    clearInterval(countdown);
    ui.status.dataset.state = state;
    const render = (): Sentence => {
      switch (state) {
        case "connecting":
          return ["Connecting…"];
        case "live":
          return ["Live in ", as.room, " as ", bdi(as.name), as.verified ? " ✓" : ""];
        case "reconnecting": {
          if (detail.retryAt === undefined) return ["Reconnecting…"];
          const seconds = Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000));
          return [seconds > 0 ? `Reconnecting in ${seconds} s` : "Reconnecting…"];
        }
        case "offline":
          return ["Offline: waiting for the network"];
        case "ended":
          return [
            detail.reason === "replaced"
              ? "Offline: your name is open somewhere else"
              : detail.reason === "kicked"
                ? "Removed by a moderator"
                : detail.reason === "unreachable"
                  ? "Could not connect to the chat"
                  : "Not connected",
          ];
      }
    };
    ui.status.replaceChildren(...render());
    if (state === "reconnecting" && detail.retryAt !== undefined) {
      countdown = setInterval(() => ui.status.replaceChildren(...render()), 1000);
    }
    if (state === "ended" && detail.reason === "replaced") {
      conversation.notice("This name was taken over by another tab or device.");
    }
  };
}
