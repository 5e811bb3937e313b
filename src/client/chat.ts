/**
 * One chat, drawn into a tree: the page's document, or the shadow root of
 * an <edge-chat-room> (embed.ts). It mounts the parts (lobby, status,
 * conversation, messages, people, composer, and the v3 features on top),
 * enters and leaves rooms, and hands what the connection reports to the
 * part it belongs to. Everything it holds lives in this call, so two chats
 * on one page are two independent calls.
 */

import { MessagesPageSchema, parseBody } from "../shared/http";
import { mountArchive } from "./archive";
import { mountAttachments } from "./attachments";
import { mountComposer } from "./composer";
import { ChatConnection, type Handlers } from "./connection";
import { mountConversation } from "./conversation";
import { bdi, findParts, type Sentence } from "./dom";
import type { TokenSource } from "./identity";
import { type Lobby, type LobbyOptions, mountLobby } from "./lobby";
import { mountMentionSuggest } from "./mention-suggest";
import { mountMessages } from "./messages";
import { describeModeration, mountModeration, until } from "./moderation";
import { mountMyRooms } from "./my-rooms";
import { mountPeople } from "./people";
import { mountReading } from "./reading";
import { mountSearch } from "./search";
import { mountStatus } from "./status";
import { mountTyping } from "./typing";
import { onServer, socketOnServer, type View } from "./view";

export interface ChatOptions extends LobbyOptions {
  /** The chat server's origin (see View). */
  server: string;
  /** What scrolls the conversation, and where its scroll events arrive. */
  scroller: () => Element;
  scrollEvents: EventTarget;
  /** The tree the chat's markup is in (a document or a shadow root). */
  tree: Document | ShadowRoot;
  /** The room was entered: the page puts it into its address (`#room`). */
  entered?: (room: string) => void;
}

export interface Chat {
  readonly lobby: Lobby;
  /** Leaves the room (if any) and stops everything that would go on (the room list, `/me`): the element calls it when it is taken off the page. */
  close(): void;
}

export function mountChat(options: ChatOptions): Chat {
  const ui = findParts(options.tree);
  const view: View = {
    ui,
    server: options.server,
    scroller: options.scroller,
    scrollEvents: options.scrollEvents,
    keys: options.tree,
  };

  let connection: ChatConnection | undefined;
  let roomName = "";
  /** The identity tokens of the room entered last, for its HTTP reads (a private room's need one). */
  let roomTokens: TokenSource | undefined;
  /** The `user` of this connection's welcome: set while signed in. */
  let verifiedAs: string | undefined;

  const current = () => connection;
  const me = () => connection?.name;
  const conversation = mountConversation(view);
  const messages = mountMessages(view, conversation);
  const moderation = mountModeration(view);
  const status = mountStatus(view, conversation);
  const typing = mountTyping(view);
  const attachments = mountAttachments(view, current, () => roomName);
  const people = mountPeople(view, current, moderation);
  const composer = mountComposer(view, current, attachments, messages, people);
  const archive = mountArchive(view, current, conversation, messages);
  const search = mountSearch(view, current, archive);
  const myRooms = mountMyRooms(view, switchRoom);
  const suggest = mountMentionSuggest(view, current);
  const reading = mountReading(view, current, messages, (seq) => myRooms.read(roomName, seq));
  const lobby = mountLobby(view, options, (room, name, tokens) => {
    options.entered?.(room);
    enterRoom(room, name, tokens);
  });
  void lobby.config.then((config) => attachments.configure(config.uploads));

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
      const path = `/api/rooms/${encodeURIComponent(room)}/messages?since=${since}`;
      const res = await fetch(onServer(view, path), { headers });
      if (!res.ok || room !== roomName) return;
      const body = parseBody(MessagesPageSchema, await res.json());
      if (!body || body.messages.length === 0) return;
      for (const chat of body.messages) {
        if ((messages.messageOf(chat.seq)?.v ?? -1) < chat.v) messages.show(chat);
        since = Math.max(since, chat.v);
      }
    }
  }

  function enterRoom(room: string, name: string, getToken: TokenSource | undefined): void {
    roomName = room;
    roomTokens = getToken;
    conversation.clear();
    messages.clear();
    archive.reset();
    search.close();
    composer.setComposing(undefined);
    attachments.clear();
    ui.roomTitle.textContent = room;
    people.reset();
    reading.reset();
    suggest.close();
    myRooms.current(room);
    // A token from this tab's earlier visit reclaims the name after a reload.
    const token = sessionStorage.getItem(tokenKey(room, name)) ?? undefined;
    const url = socketOnServer(view.server, `/chat/${room}`);
    connection = new ChatConnection({ url, name, token, getToken, on: handlers });
  }

  /** §10.3: another of the user's rooms, chosen from their list: the same name and tokens, no reload. */
  function switchRoom(room: string): void {
    const name = connection?.name ?? ui.name.value;
    connection?.leave();
    options.entered?.(room);
    enterRoom(room, name, roomTokens);
  }

  function backToLobby(): void {
    connection = undefined;
    myRooms.current("");
    lobby.show();
  }

  ui.leave.addEventListener("click", () => {
    connection?.leave();
    backToLobby();
  });

  const online = () => connection?.retryNow();
  const offline = () => connection?.wentOffline();
  window.addEventListener("online", online);
  window.addEventListener("offline", offline);

  const handlers: Handlers = {
    status(state, detail) {
      status(state, detail, { room: roomName, name: connection?.name ?? "", verified: verifiedAs !== undefined });
      // The chat was never reached (a refused origin looks the same to a browser): say so where the person is.
      if (state === "ended" && detail.reason === "unreachable") {
        backToLobby();
        lobby.error("Could not connect to the chat. Check your connection, or ask the site's owner; then Join again.");
      }
    },
    welcome(welcome, history, rejoin) {
      if (connection) sessionStorage.setItem(tokenKey(roomName, welcome.name), welcome.token);
      if (!rejoin) lobby.hide();
      messages.setViewer(
        { name: welcome.name, user: welcome.user, staff: welcome.role !== "member" },
        composer.messageActions,
      );
      if (rejoin) {
        // Reads in flight died with the old socket; an earlier stretch on show
        // gives way to the latest messages.
        const wasLive = archive.live;
        archive.reset();
        search.failed("The connection was lost; search again.");
        if (!wasLive) {
          conversation.clear();
          messages.clear();
        }
      }
      for (const chat of history) messages.show(chat);
      reading.welcomed(welcome);
      for (const chat of history) reading.shown(chat);
      if (welcome.user !== undefined && roomTokens) myRooms.start(roomTokens);
      if (welcome.gap) {
        // What did not fit into the welcome is still in the room: fetch it.
        // What left the room's history meanwhile is gone, and a rejoin says so.
        void fillGap(roomName, roomTokens);
        if (rejoin) conversation.notice("Some older messages were missed while you were away.");
      }
      verifiedAs = welcome.user;
      moderation.set(welcome.role, (frame) => connection?.moderate(frame) ?? false, welcome.settings.slowmode);
      people.welcomed(welcome, welcome.name);
    },
    chat(chat) {
      typing.stopped(chat.name);
      if (archive.live) {
        messages.show(chat);
        reading.shown(chat);
      } else archive.missed();
    },
    read(frame, asked) {
      if (frame.type === "history") archive.answered(frame);
      else if (frame.type === "search") search.answered(frame);
      else if (suggest.owns(asked)) suggest.answered(frame);
      else people.answered(frame);
    },
    update: (update) => messages.update(update),
    presence(frame) {
      people.heard(frame);
      conversation.presence(frame);
      reading.presence(frame);
    },
    cursor: (seq) => reading.cursor(seq),
    typing: (frame) => typing.someone(frame),
    dm: (dm) => conversation.dm(dm, me()),
    moderation(frame) {
      if (frame.action === "slowmode") moderation.slowmode(frame.seconds ?? 0);
      conversation.notice(describeModeration(frame)).classList.add("moderation");
    },
    error(error, during) {
      if (during === "join") {
        backToLobby();
        lobby.error(error.code === "banned" ? `You are banned from this room ${until(error.until)}.` : error.message);
        return;
      }
      // A read's refusal (rate_limited) belongs to whichever part asked it.
      if (during === "history") return archive.failed(error.message);
      if (during === "search") return search.failed(error.message);
      if (during === "members") return people.failed(error.message);
      if (error.code === "kicked") {
        conversation
          .notice(["A moderator removed you from the room", ...because(error.reason)])
          .classList.add("moderation");
      } else if (error.code === "banned") {
        conversation
          .notice([`A moderator banned you from this room ${until(error.until)}`, ...because(error.reason)])
          .classList.add("moderation");
      } else composer.refused(error);
    },
    outbox: (pending) => conversation.outbox(pending, me()),
  };

  return {
    lobby,
    close() {
      connection?.leave();
      connection = undefined;
      myRooms.stop();
      lobby.stop();
      window.removeEventListener("online", online);
      window.removeEventListener("offline", offline);
    },
  };
}

const tokenKey = (room: string, name: string) => `edge-chat:token:${room}:${name.toLowerCase()}`;

/** ": <reason>." after a moderator's action on the viewer, or "." without one. */
function because(reason: string | undefined): Sentence {
  return reason ? [": ", bdi(reason), "."] : ["."];
}
