/**
 * The chat's elements, looked up once by id in the tree the chat is drawn
 * into (the page's document, or an <edge-chat-room>'s shadow root) and
 * checked to be what the code expects, so a change to the markup fails
 * loudly at start-up instead of somewhere later. Every part of the chat
 * gets its elements from here, never from `document`, so two chats on one
 * page never touch each other's.
 */
type Tree = Pick<Document | ShadowRoot, "getElementById">;

function byId<T extends HTMLElement>(tree: Tree, id: string, kind: new () => T): T {
  const el = tree.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`#${id} missing from the chat's markup, or not a ${kind.name}`);
  return el;
}

export type Ui = ReturnType<typeof findParts>;

export function findParts(tree: Tree) {
  const the = <T extends HTMLElement>(id: string, kind: new () => T) => byId(tree, id, kind);
  return {
    status: the("status", HTMLElement),
    lobby: the("lobby", HTMLElement),
    joinForm: the("join-form", HTMLFormElement),
    room: the("room", HTMLInputElement),
    roomField: the("room-field", HTMLElement),
    activeRooms: the("active-rooms", HTMLElement),
    name: the("name", HTMLInputElement),
    identity: the("identity", HTMLElement),
    authToken: the("auth-token", HTMLTextAreaElement),
    joinError: the("join-error", HTMLElement),
    rooms: the("rooms", HTMLElement),
    chat: the("chat", HTMLElement),
    roomTitle: the("room-title", HTMLElement),
    leave: the("leave", HTMLButtonElement),
    notify: the("notify", HTMLButtonElement),
    myRooms: the("my-rooms", HTMLElement),
    myRoomList: the("my-room-list", HTMLElement),
    seenBy: the("seen-by", HTMLElement),
    messages: the("messages", HTMLElement),
    outbox: the("outbox", HTMLElement),
    jump: the("jump", HTMLButtonElement),
    users: the("users", HTMLElement),
    peopleHint: the("people-hint", HTMLElement),
    peopleFilter: the("people-filter", HTMLInputElement),
    peopleStatus: the("people-status", HTMLElement),
    peopleList: the("people-list", HTMLElement),
    peopleMore: the("people-more", HTMLButtonElement),
    count: the("count", HTMLElement),
    typing: the("typing", HTMLElement),
    sendForm: the("send-form", HTMLFormElement),
    message: the("message", HTMLInputElement),
    counter: the("counter", HTMLElement),
    sendError: the("send-error", HTMLElement),
    attach: the("attach", HTMLButtonElement),
    fileInput: the("file-input", HTMLInputElement),
    attachments: the("attachments", HTMLElement),
    logPane: the("log-pane", HTMLElement),
    dmTarget: the("dm-target", HTMLElement),
    dmName: the("dm-name", HTMLElement),
    dmClose: the("dm-close", HTMLButtonElement),
    composeContext: the("compose-context", HTMLElement),
    composeWhat: the("compose-what", HTMLElement),
    composeCancel: the("compose-cancel", HTMLButtonElement),
    slowmodeBox: the("slowmode-box", HTMLElement),
    slowmode: the("slowmode", HTMLSelectElement),
    modDialog: the("mod-dialog", HTMLDialogElement),
    modName: the("mod-name", HTMLElement),
    modReason: the("mod-reason", HTMLInputElement),
    modMinutes: the("mod-minutes", HTMLSelectElement),
    modError: the("mod-error", HTMLElement),
    searchForm: the("search-form", HTMLFormElement),
    search: the("search", HTMLInputElement),
    results: the("results", HTMLElement),
    searchStatus: the("search-status", HTMLElement),
    resultList: the("result-list", HTMLElement),
    resultsMore: the("results-more", HTMLButtonElement),
    resultsClose: the("results-close", HTMLButtonElement),
    historyEdge: the("history-edge", HTMLElement),
    historyState: the("history-state", HTMLElement),
    loadOlder: the("load-older", HTMLButtonElement),
    contextBar: the("context-bar", HTMLElement),
    contextWhat: the("context-what", HTMLElement),
    backToLive: the("back-to-live", HTMLButtonElement),
  };
}

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
