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
  messages: byId("messages", HTMLElement),
  outbox: byId("outbox", HTMLElement),
  jump: byId("jump", HTMLButtonElement),
  users: byId("users", HTMLElement),
  count: byId("count", HTMLElement),
  typing: byId("typing", HTMLElement),
  sendForm: byId("send-form", HTMLFormElement),
  message: byId("message", HTMLInputElement),
  counter: byId("counter", HTMLElement),
  sendError: byId("send-error", HTMLElement),
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
};

/** A list item of muted text ("No one is chatting right now."). */
export function muted(text: string): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "muted";
  li.textContent = text;
  return li;
}
