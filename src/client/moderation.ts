/**
 * Moderation in the page (protocol §6): the dialog a moderator acts from
 * (reached from a person's entry in the roster), the slow mode control,
 * and the words everyone reads about what happened. The server decides who
 * may act on whom; the page offers the controls to moderators and admins
 * and shows the server's refusal if there is one.
 */
import type { ModerationFrame, Role } from "../shared/protocol";
import type { ServerFrameOf } from "../shared/server-frames";
import { bdi, type Sentence } from "./dom";
import type { View } from "./view";

type Send = (frame: ModerationFrame) => boolean;

export interface Moderation {
  /** Shows or hides the moderator's controls for this connection's role. */
  set(role: Role, sender: Send | undefined, slowmode: number): void;
  allowed(): boolean;
  slowmode(seconds: number): void;
  /** Opens the dialog for one person; the buttons say what happens. */
  open(name: string): void;
}

export function mountModeration({ ui }: View): Moderation {
  let send: Send | undefined;

  const slowmode = (seconds: number): void => {
    const option = [...ui.slowmode.options].find((o) => Number(o.value) === seconds);
    if (option) ui.slowmode.value = option.value;
  };

  ui.modDialog.addEventListener("close", () => {
    const action = ui.modDialog.returnValue;
    const name = ui.modName.textContent ?? "";
    ui.modDialog.returnValue = "";
    if (!send || (action !== "kick" && action !== "mute" && action !== "ban")) return;
    const reason = ui.modReason.value.trim();
    const minutes = ui.modMinutes.value === "" ? undefined : Number(ui.modMinutes.value);
    const extra = reason ? { reason } : {};
    if (action === "kick") send({ type: "kick", name, ...extra });
    else if (action === "ban") send({ type: "ban", name, ...(minutes ? { minutes } : {}), ...extra });
    // A mute always ends: "until lifted" means a day here.
    else send({ type: "mute", name, minutes: minutes ?? 24 * 60, ...extra });
  });

  ui.slowmode.addEventListener("change", () => {
    send?.({ type: "slowmode", seconds: Number(ui.slowmode.value) });
  });

  return {
    slowmode,
    set(role, sender, seconds) {
      send = role === "member" ? undefined : sender;
      ui.slowmodeBox.hidden = send === undefined;
      slowmode(seconds);
    },
    allowed: () => send !== undefined,
    open(name) {
      ui.modName.textContent = name;
      ui.modReason.value = "";
      ui.modError.textContent = "";
      ui.modDialog.showModal();
    },
  };
}

/** What everyone reads about a moderation action, in plain words. */
export function describeModeration(frame: ServerFrameOf<"moderation">): Sentence {
  const who = bdi(frame.name ?? "");
  const why: Sentence = frame.reason ? [" (", bdi(frame.reason), ")"] : [];
  const by = bdi(frame.by);
  switch (frame.action) {
    case "kick":
      return [by, " removed ", who, " from the room", ...why, "."];
    case "ban":
      return [by, " banned ", who, ` ${until(frame.until)}`, ...why, "."];
    case "mute":
      return [by, " muted ", who, ` ${until(frame.until)}`, ...why, "."];
    case "unban":
      return frame.by === "system" ? [who, "'s ban has ended."] : [by, " lifted ", who, "'s ban."];
    case "unmute":
      return frame.by === "system" ? [who, " may speak again."] : [by, " unmuted ", who, "."];
    case "slowmode":
      return frame.seconds
        ? [by, ` turned on slow mode: one message every ${duration(frame.seconds * 1000)}.`]
        : [by, " turned slow mode off."];
  }
}

/** "until 14:05", "until Tue 14:05", or "until a moderator lifts it". */
export function until(at: number | null | undefined): string {
  if (at === null || at === undefined) return "until a moderator lifts it";
  const date = new Date(at);
  const sameDay = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay ? `until ${time}` : `until ${date.toLocaleDateString([], { weekday: "short" })} ${time}`;
}

/** "45 s", "2 min", "1 h". */
export function duration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
