/**
 * ChatRoom: one Durable Object per room name, speaking the edge-chat
 * protocol over hibernatable WebSockets. This file is the runtime shell:
 * it owns the Durable Object callbacks, the sockets, their attachments, the
 * alarm and the storage handles, and hands everything else to the chat
 * core (core.ts), which knows nothing of the runtime.
 *
 * What lives where, and why:
 * - Per socket (name, token, join order, rate and join buckets, address):
 *   the socket attachment, which the runtime keeps while the object is
 *   evicted (state.ts). The address is also the socket's tag.
 * - The room (seq and every retained message with its search index,
 *   budgets that follow a person, members away within their presence grace, bans, mutes and
 *   slow mode): SQLite (stores.ts, sanctions.ts).
 * - In memory only, rebuilt on every wake-up from the above: who is here
 *   (members.ts) and a few budgets that refill within seconds. The object
 *   sets no timers: what must happen later (closing a socket that never
 *   joined, the end of a presence grace or of a ban) is an alarm (deadlines.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { isPrivateRoom } from "../auth/access";
import { readAuth, verifyIdentity } from "../auth/identity";
import { openDirectory } from "../directory/directory";
import { CountReporter } from "../directory/reporter";
import { filesSecret, UrlSigner } from "../files/signing";
import { httpErrorBody, type ModerationState, type PublishResult, type RoomSnapshot } from "../shared/http";
import { type Limits, readLimits } from "../shared/limits";
import { type ModerationFrame, PING_TEXT, PONG_TEXT } from "../shared/protocol";
import type { FileInfo, StoredFile } from "../shared/server-frames";
import type { RoomReadState } from "../user/notes";
import { requestAddress, UNKNOWN_ADDRESS } from "../worker/address";
import { switchingProtocols } from "../worker/upgrade";
import { ChatCore } from "./core";
import { grantUpload, recordUpload, servable, type UploadGrant } from "./features/files";
import { messagesBefore, type ReadResult, searchRoom } from "./features/history";
import { messagesSince, publish, snapshot } from "./features/messages";
import { moderate, moderationState, type Outcome } from "./features/moderation";
import { countsFor } from "./features/reads";
import { errorName, type RoomIO } from "./io";
import { RoomBudgets } from "./state/budgets";
import { Sanctions } from "./state/sanctions";
import { isSocketState, newSocketState, type SocketState } from "./state/socket-state";
import { SqlFileStore } from "./storage/sql-files";
import { SqlMessageStore } from "./storage/sql-messages";
import { SqlPresenceStore } from "./storage/sql-presence";
import { SqlReadStore } from "./storage/sql-reads";
import { SqlAwayStore, SqlBucketStore, SqlSanctionStore } from "./storage/sql-stores";

export class ChatRoom extends DurableObject<Env> {
  readonly #core: ChatCore<WebSocket>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const limits = readLimits(env);
    const auth = readAuth(env);
    // The room's joins may wait for a key-set fetch one of them started (src/auth/identity.ts).
    const keyContext = {};
    // The worker only reaches rooms through idFromName, and the runtime hands
    // that name back here, so the room needs no storage read to know itself.
    const room = ctx.id.name;
    if (room === undefined) throw new Error("ChatRoom must be addressed with idFromName(room)");

    const directory = openDirectory(env.DIRECTORY);
    const reporter = new CountReporter(
      (users) => directory.report(room, users),
      (work) => ctx.waitUntil(work),
      (err) => console.warn(`room ${room}: directory report failed:`, errorName(err)),
    );
    const io: RoomIO<WebSocket> = {
      send,
      close,
      save: saveSession,
      load: (ws) => loadSession(ws, limits, Date.now()),
      // Not awaited: the output gate holds the next frames until the alarm
      // is durably set, and storage operations run in order.
      setAlarm: (at) => void ctx.storage.setAlarm(at),
      // A private room is never listed (§5.2), so it tells the directory nothing.
      reportCount: isPrivateRoom(room) ? () => {} : (users) => reporter.update(users),
      // §10.3: a join or a mention, told to the user's own object. Sent
      // after this turn's writes (the output gate holds it until then).
      tellUser: (user, note) =>
        ctx.waitUntil(
          env.USERS.getByName(user)
            .note(note)
            .catch((err: unknown) => console.warn(`room ${room}: telling a user's object failed:`, errorName(err))),
        ),
      committed: () => ctx.storage.sync(),
      forgetFiles: (keys) =>
        ctx.waitUntil(
          env.FILES.delete(keys).catch((err: unknown) =>
            console.warn(`room ${room}: deleting ${keys.length} files failed:`, errorName(err)),
          ),
        ),
    };
    const secret = filesSecret(env);
    const now = Date.now();
    // Wake-up: the attachments are the truth about who is here.
    const sockets = ctx.getWebSockets().map((ws) => [ws, loadSession(ws, limits, now)] as const);
    this.#core = new ChatCore(
      {
        room,
        limits,
        io,
        messages: new SqlMessageStore(ctx.storage.sql),
        budgets: new RoomBudgets(new SqlBucketStore(ctx.storage.sql), limits),
        sanctions: new Sanctions(new SqlSanctionStore(ctx.storage.sql)),
        away: new SqlAwayStore(ctx.storage.sql),
        presence: new SqlPresenceStore(ctx.storage.sql),
        files: new SqlFileStore(ctx.storage.sql),
        reads: new SqlReadStore(ctx.storage.sql),
        ...(secret === undefined ? {} : { signer: new UrlSigner(secret, limits.fileUrlTtlS) }),
        identify: (token) => verifyIdentity(token, auth, keyContext),
        sameToken: tokensEqual,
      },
      sockets,
    );

    // Answered by the runtime itself, so a heartbeat never wakes the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
    // Sockets already here at construction mean this is a wake-up from
    // hibernation; worth one line, and the eviction tests look for it.
    if (sockets.length > 0) console.log(`room ${room}: woke from hibernation with ${sockets.length} sockets`);
  }

  override async fetch(request: Request): Promise<Response> {
    // The worker has already checked the room, origin and upgrade; this guard
    // only keeps a misrouted plain request from being accepted as a socket.
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(httpErrorBody("websocket_required", "Connect with a WebSocket upgrade."), { status: 426 });
    }
    const address = requestAddress(request);
    const refusal = this.#core.admit(address);
    if (refusal) return Response.json(httpErrorBody(refusal.code, refusal.message), { status: 429 });
    const { 0: client, 1: server } = new WebSocketPair();
    // Tagged with its address, which the runtime keeps across hibernation.
    this.ctx.acceptWebSocket(server, [`address:${address}`]);
    this.#core.opened(server, address);
    return switchingProtocols(client);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void | Promise<void> {
    return this.#core.message(ws, message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    // 1000 and 1001 (a tab closed) are goodbyes; anything else (1006: the
    // connection dropped) starts the presence grace (§5.4).
    this.#core.closed(ws, code === 1000 || code === 1001);
    // With compatibility_date >= 2026-04-07 the runtime has already answered
    // the close frame and this call is ignored; it stays for older dates so a
    // copied pattern never leaves clients hanging in CLOSING. 1005 (no code),
    // 1006 (abnormal) and 1015 (TLS) describe a closure and may not be sent.
    close(ws, code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
  }

  override webSocketError(ws: WebSocket, error: unknown): void {
    console.warn(`room ${this.#core.room}: socket error:`, errorName(error));
    this.#core.closed(ws, false);
  }

  /** The join timeout (§2.4), the end of presence graces (§5.4) and of bans and mutes (§6), retention (§8.1); also while hibernated. */
  override alarm(): void {
    const swept = this.#core.alarm();
    // One line per sweep that deleted something: the hibernation tests look for it.
    if (swept > 0) console.log(`room ${this.#core.room}: deleted ${swept} expired messages`);
  }

  // RPC for the HTTP API (protocol §4). Synchronous like the frame handlers,
  // so a publish is ordered with chats exactly as another frame would be.

  snapshot(): RoomSnapshot {
    return snapshot(this.#core);
  }

  async messages(since: number, limit: number): Promise<string[]> {
    return messagesSince(this.#core, since, limit);
  }

  /** §8.4: a page of retained messages before a seq. */
  async messagesBefore(before: number | undefined, limit: number | undefined): Promise<ReadResult> {
    return messagesBefore(this.#core, before, limit);
  }

  async search(q: string, before: number | undefined, limit: number | undefined): Promise<ReadResult> {
    return searchRoom(this.#core, q, before, limit);
  }

  // RPC for file attachments (§11; src/worker/files.ts streams the bytes).

  grantUpload(token: string): UploadGrant {
    return grantUpload(this.#core, token);
  }

  recordUpload(owner: string, file: StoredFile): Promise<FileInfo> {
    return recordUpload(this.#core, owner, file);
  }

  /** The stored file to serve (its key, name, type and size), or null: 404 (§11.3). */
  servable(id: string): { key: string; name: string; type: string; size: number } | null {
    const row = servable(this.#core, id);
    return row ? { key: this.#core.files.key(id), name: row.name, type: row.type, size: row.size } : null;
  }

  /** §10.3: one verified user's counts in this room, for their object's list. */
  readState(user: string): RoomReadState {
    return countsFor(this.#core, user);
  }

  publish(name: string, text: string): PublishResult {
    return publish(this.#core, name, text);
  }

  /** The HTTP API's moderation (§6.4) acts as an admin named "system". */
  moderate(frame: ModerationFrame): Outcome {
    return moderate(this.#core, { name: "system", role: "admin" }, frame);
  }

  moderation(): ModerationState {
    return moderationState(this.#core);
  }
}

/** WebSocket.OPEN as a constant: no global lookup per socket in the broadcast loop. */
const OPEN = 1;

/** Sends to an OPEN socket; a socket that closed meanwhile is skipped, not an error. */
function send(ws: WebSocket, frame: string): void {
  if (ws.readyState !== OPEN) return;
  try {
    ws.send(frame);
  } catch {
    // It closed between the check and the send; its close event cleans up.
  }
}

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed: nothing to answer.
  }
}

/** Attachments are kept by the runtime while the object is evicted (at most 16 KiB, structured-cloned). */
function saveSession(ws: WebSocket, state: SocketState): void {
  ws.serializeAttachment(state);
}

function loadSession(ws: WebSocket, limits: Limits, now: number): SocketState {
  const value: unknown = ws.deserializeAttachment();
  return isSocketState(value) ? value : newSocketState(limits, UNKNOWN_ADDRESS, now);
}

const encoder = new TextEncoder();

/** Reclaim tokens compared in constant time, with the runtime's own comparison. */
function tokensEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  // The length of a token is public (always 24), so this early exit leaks nothing.
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}
