/**
 * The edge-chat page: a lobby (room, name, active rooms) and a room view
 * (conversation, people, composer). The connection logic (reconnect, outbox,
 * heartbeat) is in connection.ts; the conversation and the people list
 * render in their own modules; this file wires the page to the connection.
 * wrangler's [build] bundles it, with the protocol's rules from
 * src/shared/, into public/app.js.
 */

import { MessagesPageSchema, parseBody, RoomListSchema } from "../shared/http";
import { ROOM_NAME, ROOM_NAME_RULE } from "../shared/protocol";
import { mountArchive } from "./archive";
import { mountAttachments } from "./attachments";
import { mountComposer } from "./composer";
import { ChatConnection, type Handlers } from "./connection";
import { clearConversation, notice, presenceNotice, showDm, showOutbox } from "./conversation";
import { bdi, muted, type Sentence, ui } from "./dom";
import { endpointTokens, loadConfig, pastedToken, peek, type TokenSource } from "./identity";
import { mountMentionSuggest } from "./mention-suggest";
import { clearMessages, messageOf, setViewer, showMessage, showUpdate } from "./messages";
import { describeModeration, duration, setModerator, showSlowmode, until } from "./moderation";
import { mountMyRooms } from "./my-rooms";
import { mountPeople } from "./people";
import { mountReading } from "./reading";
import { mountSearch } from "./search";
import { showStatus } from "./status";
import { someoneTyping, stoppedTyping } from "./typing";

const ROOMS_REFRESH_MS = 15_000;

let connection: ChatConnection | undefined;
let roomName = "";
let sendCountdown: ReturnType<typeof setInterval> | undefined;
/** The host site's token endpoint (GET /api/config), if the deployment names one. */
let hostTokens: TokenSource | undefined;
/** The identity tokens of the room entered last, for its HTTP reads (a private room's need one). */
let roomTokens: TokenSource | undefined;
/** Whether the endpoint said this visitor is signed in. */
let signedInAs: string | undefined;
let verifiedOnly = false;
/** The `user` of this connection's welcome: set while signed in. */
let verifiedAs: string | undefined;

const me = () => connection?.name;
const attachments = mountAttachments(
  () => connection,
  () => roomName,
);
const { setComposing, messageActions } = mountComposer(() => connection, attachments);
const archive = mountArchive(() => connection);
const search = mountSearch(() => connection, archive);
const people = mountPeople(() => connection);
const myRooms = mountMyRooms(switchRoom);
const suggest = mountMentionSuggest(() => connection);
const reading = mountReading(
  () => connection,
  (seq) => myRooms.read(roomName, seq),
);
const AUTH_KEY = "edge-chat:auth";

// ---------------------------------------------------------------------------
// Lobby
// ---------------------------------------------------------------------------

ui.name.value = localStorage.getItem("edge-chat:name") ?? "";
// A pasted token lives as long as this tab: a reload keeps it, another tab
// (or person on this machine) does not get it.
ui.authToken.value = sessionStorage.getItem(AUTH_KEY) ?? "";
ui.authToken.addEventListener("input", describeIdentity);
void setUpSignIn();
roomFromHash();
window.addEventListener("hashchange", roomFromHash);
refreshRooms();
setInterval(() => {
  if (!ui.lobby.hidden) refreshRooms();
}, ROOMS_REFRESH_MS);

function roomFromHash(): void {
  // A malformed escape (`#%E0%A4%A`) must not stop the page from starting:
  // decodeURIComponent throws on it, so the raw text is used instead.
  const raw = location.hash.slice(1);
  let room = raw;
  try {
    room = decodeURIComponent(raw);
  } catch {
    // Not valid percent-encoding: keep it as typed; the join form checks it.
  }
  if (room && !connection) ui.room.value = room;
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = ui.room.value.trim();
  const name = ui.name.value.trim();
  const pasted = ui.authToken.value.trim();
  if (!ROOM_NAME.test(room)) return showJoinError(ROOM_NAME_RULE);
  const tokens = pasted ? pastedToken(pasted) : hostTokens;
  const signedIn = pasted !== "" || signedInAs !== undefined;
  if (!name && !signedIn) return showJoinError(verifiedOnly ? "This chat needs you to sign in." : "Pick a name.");
  if (name) localStorage.setItem("edge-chat:name", name);
  if (pasted) sessionStorage.setItem(AUTH_KEY, pasted);
  else sessionStorage.removeItem(AUTH_KEY);
  history.replaceState(null, "", `#${room}`);
  enterRoom(room, name, tokens);
});

/** Asks the server how people sign in here, and the host site whether this visitor is. */
async function setUpSignIn(): Promise<void> {
  const config = await loadConfig();
  verifiedOnly = config.access === "verified";
  attachments.configure(config.uploads);
  if (config.authEndpoint !== null) {
    hostTokens = endpointTokens(config.authEndpoint);
    try {
      const token = await hostTokens();
      const claims = token === undefined ? undefined : peek(token);
      signedInAs = token === undefined ? undefined : (claims?.name ?? claims?.sub ?? "you");
    } catch {
      signedInAs = undefined;
    }
  }
  describeIdentity();
}

function describeIdentity(): void {
  const pasted = ui.authToken.value.trim();
  const claims = pasted ? peek(pasted) : undefined;
  const who = pasted ? (claims?.name ?? claims?.sub) : signedInAs;
  if (pasted && !claims) ui.identity.textContent = "That does not look like an identity token.";
  else if (who !== undefined)
    ui.identity.replaceChildren("You will join signed in as ", bdi(who), " ✓; the name field is not used.");
  else if (verifiedOnly)
    ui.identity.textContent = "This chat is for signed-in people: sign in on the site, or paste a token.";
  else ui.identity.textContent = "Guests pick any free name.";
}

function showJoinError(text: string): void {
  ui.joinError.textContent = text;
  ui.joinError.hidden = false;
}

async function refreshRooms(): Promise<void> {
  try {
    const res = await fetch("/api/rooms");
    if (!res.ok) throw new Error(String(res.status));
    const rooms = parseBody(RoomListSchema, await res.json())?.rooms;
    if (!rooms) throw new Error("not a room list");
    const items = rooms.slice(0, 50).map(({ room, users }) => {
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

/**
 * A welcome whose history was cut to its byte budget (§2.1): the ring's
 * messages over HTTP, paged by `v` (§7.4), each shown unless the page
 * already has it in the same or a newer state.
 */
async function fillGap(room: string, tokens: TokenSource | undefined): Promise<void> {
  const token = await tokens?.().catch(() => undefined);
  const headers: HeadersInit = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  let since = 0;
  // The ring holds HISTORY_LIMIT messages; a few pages always cover it.
  for (let page = 0; page < 20 && room === roomName; page++) {
    const res = await fetch(`/api/rooms/${encodeURIComponent(room)}/messages?since=${since}`, { headers });
    if (!res.ok || room !== roomName) return;
    const body = parseBody(MessagesPageSchema, await res.json());
    if (!body || body.messages.length === 0) return;
    for (const chat of body.messages) {
      if ((messageOf(chat.seq)?.v ?? -1) < chat.v) showMessage(chat);
      since = Math.max(since, chat.v);
    }
  }
}

// ---------------------------------------------------------------------------
// Entering and leaving a room
// ---------------------------------------------------------------------------

function enterRoom(room: string, name: string, getToken: TokenSource | undefined): void {
  roomName = room;
  roomTokens = getToken;
  ui.joinError.hidden = true;
  clearConversation();
  clearMessages();
  archive.reset();
  search.close();
  setComposing(undefined);
  attachments.clear();
  ui.roomTitle.textContent = room;
  people.reset();
  reading.reset();
  suggest.close();
  myRooms.current(room);
  const url = new URL(`/chat/${room}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  // A token from this tab's earlier visit reclaims the name after a reload.
  const token = sessionStorage.getItem(tokenKey(room, name)) ?? undefined;
  connection = new ChatConnection({ url: url.href, name, token, getToken, on: handlers });
}

/** §10.3: another of the user's rooms, chosen from their list: the same name and tokens, no reload. */
function switchRoom(room: string): void {
  const name = connection?.name ?? ui.name.value;
  connection?.leave();
  history.replaceState(null, "", `#${room}`);
  enterRoom(room, name, roomTokens);
}

function backToLobby(): void {
  connection = undefined;
  myRooms.current("");
  ui.chat.hidden = true;
  ui.lobby.hidden = false;
  refreshRooms();
  ui.name.focus();
}

ui.leave.addEventListener("click", () => {
  connection?.leave();
  backToLobby();
});

const tokenKey = (room: string, name: string) => `edge-chat:token:${room}:${name.toLowerCase()}`;

window.addEventListener("online", () => connection?.retryNow());
window.addEventListener("offline", () => connection?.wentOffline());

// ---------------------------------------------------------------------------
// What the connection reports
// ---------------------------------------------------------------------------

const handlers: Handlers = {
  status: (state, detail) =>
    showStatus(state, detail, { room: roomName, name: connection?.name ?? "", verified: verifiedAs !== undefined }),
  welcome(welcome, history, rejoin) {
    if (connection) sessionStorage.setItem(tokenKey(roomName, welcome.name), welcome.token);
    if (!rejoin) {
      ui.lobby.hidden = true;
      ui.chat.hidden = false;
      ui.message.focus();
    }
    setViewer({ name: welcome.name, user: welcome.user, staff: welcome.role !== "member" }, messageActions);
    if (rejoin) {
      // Reads in flight died with the old socket; an earlier stretch on show
      // gives way to the latest messages.
      const wasLive = archive.live;
      archive.reset();
      search.failed("The connection was lost; search again.");
      if (!wasLive) {
        clearConversation();
        clearMessages();
      }
    }
    for (const chat of history) showMessage(chat);
    reading.welcomed(welcome);
    for (const chat of history) reading.shown(chat);
    if (welcome.user !== undefined && roomTokens) myRooms.start(roomTokens);
    if (welcome.gap) {
      // What did not fit into the welcome is still in the room: fetch it.
      // What left the room's history meanwhile is gone, and a rejoin says so.
      void fillGap(roomName, roomTokens);
      if (rejoin) notice("Some older messages were missed while you were away.");
    }
    verifiedAs = welcome.user;
    setModerator(welcome.role, (frame) => connection?.moderate(frame) ?? false, welcome.settings.slowmode);
    people.welcomed(welcome, welcome.name);
  },
  chat(chat) {
    stoppedTyping(chat.name);
    if (archive.live) {
      showMessage(chat);
      reading.shown(chat);
    } else archive.missed();
  },
  read(frame, asked) {
    if (frame.type === "history") archive.answered(frame);
    else if (frame.type === "search") search.answered(frame);
    else if (suggest.owns(asked)) suggest.answered(frame);
    else people.answered(frame);
  },
  update: showUpdate,
  presence(frame) {
    people.heard(frame);
    presenceNotice(frame);
    reading.presence(frame);
  },
  cursor: (seq) => reading.cursor(seq),
  typing: someoneTyping,
  dm: (dm) => showDm(dm, me()),
  moderation(frame) {
    if (frame.action === "slowmode") showSlowmode(frame.seconds ?? 0);
    notice(describeModeration(frame)).classList.add("moderation");
  },
  error(error, during) {
    clearInterval(sendCountdown);
    if (during === "join") {
      backToLobby();
      showJoinError(error.code === "banned" ? `You are banned from this room ${until(error.until)}.` : error.message);
      return;
    }
    // A read's refusal (rate_limited) belongs to whichever part asked it.
    if (during === "history") return archive.failed(error.message);
    if (during === "search") return search.failed(error.message);
    if (during === "members") return people.failed(error.message);
    switch (error.code) {
      case "kicked":
        notice(["A moderator removed you from the room", ...because(error.reason)]).classList.add("moderation");
        return;
      case "banned":
        notice([`A moderator banned you from this room ${until(error.until)}`, ...because(error.reason)]).classList.add(
          "moderation",
        );
        return;
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
  },
  outbox: (pending) => showOutbox(pending, me()),
};

/** ": <reason>." after a moderator's action on the viewer, or "." without one. */
function because(reason: string | undefined): Sentence {
  return reason ? [": ", bdi(reason), "."] : ["."];
}
