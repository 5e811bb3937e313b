/**
 * The page's elements, looked up once by id and checked to be what the
 * code expects, so a change to index.html fails loudly at start-up instead
 * of somewhere later.
 */
function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`#${id} missing from index.html, or not a ${kind.name}`);
  return el;
}

export const ui = {
  status: byId("status", HTMLElement),
  lobby: byId("lobby", HTMLElement),
  joinForm: byId("join-form", HTMLFormElement),
  room: byId("room", HTMLInputElement),
  name: byId("name", HTMLInputElement),
  identity: byId("identity", HTMLElement),
  authToken: byId("auth-token", HTMLTextAreaElement),
  joinError: byId("join-error", HTMLElement),
  rooms: byId("rooms", HTMLElement),
  chat: byId("chat", HTMLElement),
  roomTitle: byId("room-title", HTMLElement),
  leave: byId("leave", HTMLButtonElement),
  notify: byId("notify", HTMLButtonElement),
  myRooms: byId("my-rooms", HTMLElement),
  myRoomList: byId("my-room-list", HTMLElement),
  seenBy: byId("seen-by", HTMLElement),
  messages: byId("messages", HTMLElement),
  outbox: byId("outbox", HTMLElement),
  jump: byId("jump", HTMLButtonElement),
  users: byId("users", HTMLElement),
  peopleHint: byId("people-hint", HTMLElement),
  peopleFilter: byId("people-filter", HTMLInputElement),
  peopleStatus: byId("people-status", HTMLElement),
  peopleList: byId("people-list", HTMLElement),
  peopleMore: byId("people-more", HTMLButtonElement),
  count: byId("count", HTMLElement),
  typing: byId("typing", HTMLElement),
  sendForm: byId("send-form", HTMLFormElement),
  message: byId("message", HTMLInputElement),
  counter: byId("counter", HTMLElement),
  sendError: byId("send-error", HTMLElement),
  attach: byId("attach", HTMLButtonElement),
  fileInput: byId("file-input", HTMLInputElement),
  attachments: byId("attachments", HTMLElement),
  logPane: byId("log-pane", HTMLElement),
  dmTarget: byId("dm-target", HTMLElement),
  dmName: byId("dm-name", HTMLElement),
  dmClose: byId("dm-close", HTMLButtonElement),
  composeContext: byId("compose-context", HTMLElement),
  composeWhat: byId("compose-what", HTMLElement),
  composeCancel: byId("compose-cancel", HTMLButtonElement),
  slowmodeBox: byId("slowmode-box", HTMLElement),
  slowmode: byId("slowmode", HTMLSelectElement),
  modDialog: byId("mod-dialog", HTMLDialogElement),
  modName: byId("mod-name", HTMLElement),
  modReason: byId("mod-reason", HTMLInputElement),
  modMinutes: byId("mod-minutes", HTMLSelectElement),
  modError: byId("mod-error", HTMLElement),
  searchForm: byId("search-form", HTMLFormElement),
  search: byId("search", HTMLInputElement),
  results: byId("results", HTMLElement),
  searchStatus: byId("search-status", HTMLElement),
  resultList: byId("result-list", HTMLElement),
  resultsMore: byId("results-more", HTMLButtonElement),
  resultsClose: byId("results-close", HTMLButtonElement),
  historyEdge: byId("history-edge", HTMLElement),
  historyState: byId("history-state", HTMLElement),
  loadOlder: byId("load-older", HTMLButtonElement),
  contextBar: byId("context-bar", HTMLElement),
  contextWhat: byId("context-what", HTMLElement),
  backToLive: byId("back-to-live", HTMLButtonElement),
};

/**
 * Every user string (a name, an emoji, a reason, a message) is isolated
 * from the page's own words, so right-to-left text or a stray direction
 * mark in it cannot reorder what is around it ("evil 1" never shows as
 * "1 live"). In an element's content: a `<bdi>` (bdi()), inside a Sentence;
 * in an attribute (title, aria-label), which holds text only: between
 * FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE (isolate()), the
 * plain-text form of `<bdi>`. Elements that hold only a user's string get
 * the same from `unicode-bidi` in style.css.
 */
export type Sentence = ReadonlyArray<string | Node>;

export function isolate(userText: string): string {
  return CAN_TURN_TEXT.test(userText) ? `\u2068${userText}\u2069` : userText;
}

/**
 * Right-to-left letters (Hebrew, Arabic, Syriac, Thaana, N'Ko, …, and their
 * presentation forms) and direction controls: what can reorder the text
 * around a string. Left-to-right text cannot, so it stays as it is and a
 * tooltip reads "Ben", not "⁨Ben⁩" where the isolates are not drawn.
 */
const CAN_TURN_TEXT =
  /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]|[\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u;

/** A `<bdi>` holding a user's string, for a part of an element's content. */
export function bdi(userText: string): HTMLElement {
  const el = document.createElement("bdi");
  el.textContent = userText;
  return el;
}

/** A list item of muted text ("No one is chatting right now."). */
export function muted(text: string): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "muted";
  li.textContent = text;
  return li;
}
