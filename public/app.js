// @ts-check
/**
 * The edge-chat page: a lobby (room, name, active rooms) and a room view
 * (conversation, people, composer). The session logic (reconnect, outbox,
 * heartbeat) is in connection.js; this file only renders and wires input.
 *
 * Safety: user text reaches the page only through textContent, never as HTML,
 * and the CSP in _headers forbids inline script, so a message such as
 * `<img src=x onerror=…>` is shown as those characters.
 */
import { ChatConnection } from "./connection.js";

/**
 * @typedef {import("../src/protocol").ChatFrame} ChatFrame
 * @typedef {import("./connection.js").State} State
 */

/** Protocol defaults (wrangler.toml [vars]); the server enforces the real ones. */
const MAX_MESSAGE_CHARS = 2000;
const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TYPING_SHOWN_MS = 4000;
const TYPING_SENT_EVERY_MS = 2500;
const ROOMS_REFRESH_MS = 15_000;
const NEAR_BOTTOM_PX = 48;
/** Notices (joins, leaves, gaps) kept in the conversation; older ones are removed. */
const NOTICE_LIMIT = 100;

/** @template {HTMLElement} T @param {string} id @returns {T} */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return /** @type {T} */ (el);
}

const ui = {
  status: $("status"),
  lobby: $("lobby"),
  joinForm: /** @type {HTMLFormElement} */ ($("join-form")),
  room: /** @type {HTMLInputElement} */ ($("room")),
  name: /** @type {HTMLInputElement} */ ($("name")),
  joinError: $("join-error"),
  rooms: $("rooms"),
  chat: $("chat"),
  roomTitle: $("room-title"),
  leave: $("leave"),
  messages: $("messages"),
  outbox: $("outbox"),
  jump: $("jump"),
  users: $("users"),
  count: $("count"),
  typing: $("typing"),
  sendForm: /** @type {HTMLFormElement} */ ($("send-form")),
  message: /** @type {HTMLInputElement} */ ($("message")),
  counter: $("counter"),
  sendError: $("send-error"),
  dmTarget: $("dm-target"),
  dmName: $("dm-name"),
  dmClose: $("dm-close"),
};

/** @type {ChatConnection | undefined} */
let session;
let roomName = "";
/** @type {string[]} */
let roster = [];
/** @type {string | undefined} */
let dmTo;
/** name → when their typing notice expires */
const typers = new Map();
let lastTypingSent = 0;
/** @type {ReturnType<typeof setInterval> | undefined} */
let countdown;

// ---------------------------------------------------------------------------
// Lobby
// ---------------------------------------------------------------------------

ui.name.value = localStorage.getItem("edge-chat:name") ?? "";
roomFromHash();
window.addEventListener("hashchange", roomFromHash);
refreshRooms();
setInterval(() => {
  if (!ui.lobby.hidden) refreshRooms();
}, ROOMS_REFRESH_MS);

function roomFromHash() {
  // A malformed escape (`#%E0%A4%A`) must not stop the page from starting:
  // decodeURIComponent throws on it, so the raw text is used instead.
  const raw = location.hash.slice(1);
  let room = raw;
  try {
    room = decodeURIComponent(raw);
  } catch {
    // Not valid percent-encoding: keep it as typed; the join form checks it.
  }
  if (room && !session) ui.room.value = room;
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = ui.room.value.trim();
  const name = ui.name.value.trim();
  if (!ROOM_NAME.test(room)) return showJoinError("Room names are letters, digits, '.', '_' or '-' (up to 64).");
  if (!name) return showJoinError("Pick a name.");
  localStorage.setItem("edge-chat:name", name);
  history.replaceState(null, "", `#${room}`);
  enterRoom(room, name);
});

/** @param {string} text */
function showJoinError(text) {
  ui.joinError.textContent = text;
  ui.joinError.hidden = false;
}

async function refreshRooms() {
  try {
    const res = await fetch("/api/rooms");
    if (!res.ok) throw new Error(String(res.status));
    /** @type {{ rooms: Array<{ room: string, users: number }> }} */
    const body = await res.json();
    const items = body.rooms.slice(0, 50).map(({ room, users }) => {
      const link = document.createElement("a");
      link.href = `#${room}`;
      link.textContent = room;
      const count = document.createElement("span");
      count.className = "muted";
      count.textContent = ` ${users} online`;
      const li = document.createElement("li");
      li.append(link, count);
      return li;
    });
    if (items.length === 0) items.push(muted("No one is chatting right now."));
    ui.rooms.replaceChildren(...items);
  } catch {
    ui.rooms.replaceChildren(muted("The room list is unavailable."));
  }
}

/** @param {string} text */
function muted(text) {
  const li = document.createElement("li");
  li.className = "muted";
  li.textContent = text;
  return li;
}

// ---------------------------------------------------------------------------
// Entering and leaving a room
// ---------------------------------------------------------------------------

/** @param {string} room @param {string} name */
function enterRoom(room, name) {
  roomName = room;
  ui.joinError.hidden = true;
  ui.messages.replaceChildren();
  ui.outbox.replaceChildren();
  ui.roomTitle.textContent = room;
  setRoster([]);
  closeDm();
  const url = new URL(`/chat/${room}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  // A token from this tab's earlier visit reclaims the name after a reload.
  const token = sessionStorage.getItem(tokenKey(room, name)) ?? undefined;
  session = new ChatConnection({ url: url.href, name, token, on: handlers });
}

function backToLobby() {
  session = undefined;
  ui.chat.hidden = true;
  ui.lobby.hidden = false;
  refreshRooms();
  ui.name.focus();
}

ui.leave.addEventListener("click", () => {
  session?.leave();
  backToLobby();
});

/** @param {string} room @param {string} name */
const tokenKey = (room, name) => `edge-chat:token:${room}:${name.toLowerCase()}`;

window.addEventListener("online", () => session?.retryNow());
window.addEventListener("offline", () => session?.wentOffline());

// ---------------------------------------------------------------------------
// What the session reports
// ---------------------------------------------------------------------------

/** @type {import("./connection.js").Handlers} */
const handlers = {
  status: showStatus,
  welcome(welcome, fresh, rejoin) {
    if (session) sessionStorage.setItem(tokenKey(roomName, welcome.name), welcome.token);
    if (!rejoin) {
      ui.lobby.hidden = true;
      ui.chat.hidden = false;
      ui.message.focus();
    }
    for (const chat of fresh) showChat(chat);
    if (welcome.gap) notice("Some older messages were missed while you were away.");
    setRoster(welcome.users);
  },
  chat(chat) {
    typers.delete(chat.name);
    renderTyping();
    showChat(chat);
  },
  presence(frame) {
    if (frame.type === "joined") setRoster([...roster, frame.name]);
    else setRoster(roster.filter((n) => n !== frame.name));
    presenceNotice(frame.type, frame.name);
    if (frame.type === "left" && dmTo === frame.name) closeDm();
  },
  typing(name) {
    typers.set(name, Date.now() + TYPING_SHOWN_MS);
    renderTyping();
    setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
  },
  dm(dm) {
    const mine = dm.from === session?.name;
    const item = messageItem(mine ? `You → ${dm.to}` : `${dm.from} → you`, dm.text, dm.ts);
    item.classList.add("dm");
    if (mine) item.classList.add("mine");
    append(item);
  },
  error(error, during) {
    if (during === "join") {
      backToLobby();
      showJoinError(error.message);
      return;
    }
    ui.sendError.textContent = error.code === "rate_limited" ? `${error.message} Retrying…` : error.message;
  },
  outbox(pending) {
    ui.outbox.replaceChildren(
      ...pending.map((p) => {
        const item = messageItem(session?.name ?? "", p.text, Date.now());
        item.classList.add("mine", "pending");
        return item;
      }),
    );
    stickToBottom(true);
  },
};

/** @param {State} state @param {{ retryAt?: number, reason?: string }} detail */
function showStatus(state, detail) {
  clearInterval(countdown);
  ui.status.dataset.state = state;
  const render = () => {
    switch (state) {
      case "connecting":
        return "Connecting…";
      case "live":
        return `Live in ${roomName} as ${session?.name ?? ""}`;
      case "reconnecting": {
        if (detail.retryAt === undefined) return "Reconnecting…";
        const seconds = Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000));
        return seconds > 0 ? `Reconnecting in ${seconds} s` : "Reconnecting…";
      }
      case "offline":
        return "Offline: waiting for the network";
      case "ended":
        return endedText(detail.reason);
    }
  };
  ui.status.textContent = render();
  if (state === "reconnecting" && detail.retryAt !== undefined) {
    countdown = setInterval(() => {
      ui.status.textContent = render();
    }, 1000);
  }
  if (state === "ended" && detail.reason === "replaced") {
    notice("This name was taken over by another tab or device.");
  }
}

/** @param {string | undefined} reason */
function endedText(reason) {
  return reason === "replaced" ? "Offline: your name is open somewhere else" : "Not connected";
}

// ---------------------------------------------------------------------------
// Conversation
// ---------------------------------------------------------------------------

/** @param {ChatFrame} chat */
function showChat(chat) {
  const item = messageItem(chat.name, chat.text, chat.ts);
  item.dataset.seq = String(chat.seq);
  if (chat.name === session?.name && !chat.bot) item.classList.add("mine");
  if (chat.bot) item.classList.add("bot");
  append(item);
}

/** @param {string} who @param {string} text @param {number} ts */
function messageItem(who, text, ts) {
  const item = document.createElement("li");
  item.className = "msg";
  const head = document.createElement("div");
  head.className = "meta";
  const sender = document.createElement("span");
  sender.className = "who";
  sender.textContent = who;
  const time = document.createElement("time");
  const date = new Date(ts);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  head.append(sender, time);
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;
  item.append(head, body);
  return item;
}

/** @param {string} text */
function notice(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  append(item);
  // Only so many notices are kept: the oldest go first, messages stay.
  const notices = ui.messages.querySelectorAll(":scope > .notice");
  for (let i = 0; i < notices.length - NOTICE_LIMIT; i++) notices[i]?.remove();
  return item;
}

/**
 * Joins and leaves in a row share one notice line ("Ann and 12 others
 * joined · Ben left") until a message comes between them, so a busy door
 * (or a flood) is one line that changes, not a line per event.
 * @type {{ item: HTMLElement, joined: Set<string>, left: Set<string> } | undefined}
 */
let presenceLine;

/** @param {"joined" | "left"} type @param {string} name */
function presenceNotice(type, name) {
  if (!presenceLine || ui.messages.lastElementChild !== presenceLine.item) {
    presenceLine = { item: notice(""), joined: new Set(), left: new Set() };
  }
  const { joined, left } = presenceLine;
  (type === "joined" ? joined : left).add(name);
  const parts = [];
  if (joined.size > 0) parts.push(`${people(joined)} joined`);
  if (left.size > 0) parts.push(`${people(left)} left`);
  presenceLine.item.textContent = parts.join(" · ");
}

/** "Ann", "Ann and Ben", "Ann and 12 others". @param {Set<string>} names */
function people(names) {
  const [first, second] = names;
  if (names.size === 1) return String(first);
  if (names.size === 2) return `${first} and ${second}`;
  return `${first} and ${names.size - 1} others`;
}

/** @param {HTMLElement} item */
function append(item) {
  const follow = nearBottom();
  ui.messages.append(item);
  stickToBottom(follow);
}

/** The reader is at the end of the conversation (so new messages may scroll it). */
function nearBottom() {
  const el = document.scrollingElement ?? document.documentElement;
  return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
}

/** Scrolls to the newest message, unless the reader had scrolled up: then offer a button. */
function stickToBottom(/** @type {boolean} */ follow) {
  if (follow) {
    ui.outbox.scrollIntoView({ block: "end" });
    ui.jump.hidden = true;
  } else {
    ui.jump.hidden = false;
  }
}

ui.jump.addEventListener("click", () => stickToBottom(true));
window.addEventListener("scroll", () => {
  if (nearBottom()) ui.jump.hidden = true;
});

function renderTyping() {
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

// ---------------------------------------------------------------------------
// People and direct messages
// ---------------------------------------------------------------------------

/** @param {string[]} names */
function setRoster(names) {
  roster = names;
  ui.count.textContent = `(${names.length})`;
  ui.users.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement("li");
      if (name === session?.name) {
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

/** @param {string} name */
function openDm(name) {
  dmTo = name;
  ui.dmName.textContent = name;
  ui.dmTarget.hidden = false;
  ui.sendForm.classList.add("is-dm");
  ui.message.focus();
}

function closeDm() {
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

// ---------------------------------------------------------------------------
// Composer
// ---------------------------------------------------------------------------

/** Code points, as the server counts them (an emoji is one, not two). */
const length = (/** @type {string} */ s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function updateCounter() {
  const n = length(ui.message.value);
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
  if (session && dmTo === undefined && ui.message.value && now - lastTypingSent > TYPING_SENT_EVERY_MS) {
    lastTypingSent = now;
    session.typing();
  }
});

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!session) return;
  const text = ui.message.value;
  if (!text.trim()) return;
  if (updateCounter()) {
    ui.sendError.textContent = `A message may be at most ${MAX_MESSAGE_CHARS} characters.`;
    return;
  }
  if (dmTo !== undefined) {
    if (!session.dm(dmTo, text)) {
      ui.sendError.textContent = "Direct messages need a live connection; try again in a moment.";
      return;
    }
  } else if (!session.chat(text)) {
    ui.sendError.textContent = "Too many messages are waiting to be sent; wait for the connection.";
    return;
  }
  ui.message.value = "";
  lastTypingSent = 0;
  updateCounter();
});
