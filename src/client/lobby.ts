/**
 * The lobby: the join form (room, name, or a pasted identity token), what
 * the visitor will join as, and the active rooms. It asks the server how
 * people sign in here (GET /api/config) and the host site whether this
 * visitor is signed in, and hands a valid join to `enter`.
 */
import { type ClientConfig, parseBody, RoomListSchema } from "../shared/http";
import { ROOM_NAME, ROOM_NAME_RULE } from "../shared/protocol";
import { bdi, muted } from "./dom";
import { endpointTokens, loadConfig, pastedToken, peek, type TokenSource } from "./identity";
import { onServer, type View } from "./view";

const ROOMS_REFRESH_MS = 15_000;
/** A pasted token lives as long as this tab: a reload keeps it, another tab (or person on this machine) does not. */
const AUTH_KEY = "edge-chat:auth";
const NAME_KEY = "edge-chat:name";

export interface LobbyOptions {
  /** The host site's token endpoint; without one, the server's AUTH_ENDPOINT (if it names one). */
  tokenEndpoint?: string | undefined;
  /** The room is the host's choice (an embedded chat): the room field and the room list are not shown. */
  fixedRoom?: string | undefined;
}

export interface Lobby {
  /** The server's answer to GET /api/config, once it is in. */
  readonly config: Promise<ClientConfig>;
  show(): void;
  hide(): void;
  error(text: string): void;
  /** Puts a room into the form (a link's `#room`), unless a room is entered. */
  suggest(room: string): void;
  /** Stops refreshing the room list (the element was taken off the page). */
  stop(): void;
}

export function mountLobby(
  view: View,
  options: LobbyOptions,
  enter: (room: string, name: string, tokens: TokenSource | undefined) => void,
): Lobby {
  const { ui } = view;
  /** The host site's token endpoint, if there is one. */
  let hostTokens: TokenSource | undefined;
  /** Whether the endpoint said this visitor is signed in. */
  let signedInAs: string | undefined;
  let verifiedOnly = false;

  const describeIdentity = (): void => {
    const pasted = ui.authToken.value.trim();
    const claims = pasted ? peek(pasted) : undefined;
    const who = pasted ? (claims?.name ?? claims?.sub) : signedInAs;
    if (pasted && !claims) ui.identity.textContent = "That does not look like an identity token.";
    else if (who !== undefined)
      ui.identity.replaceChildren("You will join signed in as ", bdi(who), " ✓; the name field is not used.");
    else if (verifiedOnly)
      ui.identity.textContent = "This chat is for signed-in people: sign in on the site, or paste a token.";
    else ui.identity.textContent = "Guests pick any free name.";
  };

  const error = (text: string): void => {
    ui.joinError.textContent = text;
    ui.joinError.hidden = false;
  };

  const refreshRooms = async (): Promise<void> => {
    if (options.fixedRoom !== undefined) return;
    try {
      const res = await fetch(onServer(view, "/api/rooms"));
      if (!res.ok) throw new Error(String(res.status));
      const rooms = parseBody(RoomListSchema, await res.json())?.rooms;
      if (!rooms) throw new Error("not a room list");
      const items = rooms.slice(0, 50).map(({ room, users }) => {
        const link = document.createElement("a");
        link.href = `#${room}`;
        link.textContent = room;
        // A link suits the page (its #room joins); an embedded chat has no page to link to.
        link.addEventListener("click", () => {
          ui.room.value = room;
        });
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
  };

  /** Asks the server how people sign in here, and the host site whether this visitor is. */
  const setUpSignIn = async (): Promise<ClientConfig> => {
    const config = await loadConfig(view.server);
    verifiedOnly = config.access === "verified";
    const endpoint =
      options.tokenEndpoint ?? (config.authEndpoint === null ? undefined : onServer(view, config.authEndpoint));
    if (endpoint !== undefined) {
      hostTokens = endpointTokens(endpoint);
      try {
        const token = await hostTokens();
        const claims = token === undefined ? undefined : peek(token);
        signedInAs = token === undefined ? undefined : (claims?.name ?? claims?.sub ?? "you");
      } catch {
        signedInAs = undefined;
      }
    }
    describeIdentity();
    return config;
  };

  ui.name.value = localStorage.getItem(NAME_KEY) ?? "";
  ui.authToken.value = sessionStorage.getItem(AUTH_KEY) ?? "";
  ui.authToken.addEventListener("input", describeIdentity);
  if (options.fixedRoom !== undefined) {
    ui.room.value = options.fixedRoom;
    ui.roomField.hidden = true;
    ui.activeRooms.hidden = true;
  }

  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = ui.room.value.trim();
    const name = ui.name.value.trim();
    const pasted = ui.authToken.value.trim();
    if (!ROOM_NAME.test(room)) return error(ROOM_NAME_RULE);
    const tokens = pasted ? pastedToken(pasted) : hostTokens;
    const signedIn = pasted !== "" || signedInAs !== undefined;
    if (!name && !signedIn) return error(verifiedOnly ? "This chat needs you to sign in." : "Pick a name.");
    if (name) localStorage.setItem(NAME_KEY, name);
    if (pasted) sessionStorage.setItem(AUTH_KEY, pasted);
    else sessionStorage.removeItem(AUTH_KEY);
    ui.joinError.hidden = true;
    enter(room, name, tokens);
  });

  void refreshRooms();
  const refresh = setInterval(() => {
    if (!ui.lobby.hidden) void refreshRooms();
  }, ROOMS_REFRESH_MS);

  return {
    config: setUpSignIn(),
    error,
    show() {
      ui.chat.hidden = true;
      ui.lobby.hidden = false;
      void refreshRooms();
      ui.name.focus();
    },
    hide() {
      ui.joinError.hidden = true;
      ui.lobby.hidden = true;
      ui.chat.hidden = false;
      ui.message.focus();
    },
    suggest(room) {
      if (options.fixedRoom === undefined) ui.room.value = room;
    },
    stop: () => clearInterval(refresh),
  };
}
