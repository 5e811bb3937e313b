/**
 * MeGate: holds `/me` sockets (protocol §10.3), one Durable Object per
 * client address (`getByName` of the address key), with the Hibernation
 * API.
 *
 * Why not the user's own object: a `/me` socket says who it is only in its
 * first frame, after the upgrade, and a socket cannot move between objects
 * once accepted. So the socket stays with the object of the address it
 * came from, which learns the user from `auth` and tells the user's object
 * (user-rooms.ts) where to push mentions. An address is also what the
 * limits of §2.4 hold: MAX_SOCKETS_PER_ADDRESS sockets, JOIN_TIMEOUT_MS to
 * authenticate (the alarm closes the rest), and JOINS_PER_MINUTE × 5 token
 * checks a minute.
 *
 * Each socket's attachment keeps who it is and which rooms its token
 * admits, so a mention reaches only the sockets whose token covers the
 * room, also after an eviction.
 */
import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import { admits } from "../auth/access";
import { readAuth, verifyIdentity } from "../auth/identity";
import { errorName } from "../room/io";
import { type Limits, readLimits } from "../shared/limits";
import { CLOSE_JOIN_TIMEOUT, PING_TEXT, PONG_TEXT, parseMeFrame } from "../shared/protocol";
import { encode, errorFrame } from "../shared/server-frames";
import { requestAddress } from "../worker/address";
import { switchingProtocols } from "../worker/upgrade";
import { spendKept } from "./kept-bucket";

const Attachment = v.object({
  opened: v.number(),
  address: v.string(),
  user: v.optional(v.string()),
  rooms: v.optional(v.array(v.string())),
  /** Whether the token carried a `rooms` claim: without one, every room but private ones (§5.2). */
  claimed: v.optional(v.boolean()),
});
type Attachment = v.InferOutput<typeof Attachment>;
const CHECKS = "checks";

export class MeGate extends DurableObject<Env> {
  readonly #limits: Limits;
  readonly #auth = readAuth(this.env);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#limits = readLimits(env);
    // Answered by the runtime itself, so a heartbeat never wakes the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Connect with a WebSocket upgrade.", { status: 426 });
    }
    if (this.ctx.getWebSockets().length >= this.#limits.maxSocketsPerAddress) {
      return Response.json(
        { error: "too_many_sockets", message: "Too many connections from your address." },
        { status: 429 },
      );
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const now = Date.now();
    const address = requestAddress(request);
    server.serializeAttachment({ opened: now, address } satisfies Attachment);
    // The socket must say who it is by then (§2.4's join timeout), or the alarm closes it.
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null) await this.ctx.storage.setAlarm(now + this.#limits.joinTimeoutMs);
    return switchingProtocols(client);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const me = attachment(ws);
    if (!me) return this.#refuse(ws, "auth_invalid");
    const parsed = parseMeFrame(message, this.#limits.maxFrameBytes);
    if (!parsed.ok) {
      if (me.user === undefined) return this.#refuse(ws, "auth_invalid", "Send `auth` with an identity token first.");
      ws.send(errorFrame(parsed.code, parsed.message));
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "ping") return void ws.send(PONG_TEXT);
    if (me.user === undefined) {
      if (frame.type !== "auth") return this.#refuse(ws, "auth_invalid", "Send `auth` with an identity token first.");
      return this.#authenticate(ws, me, frame.auth);
    }
    if (frame.type === "auth") return void ws.send(errorFrame("already_joined", "This socket is already signed in."));
    await this.#sendRooms(ws, me);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  /** Closes every socket that has not signed in within JOIN_TIMEOUT_MS; waits for the next one. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let next: number | undefined;
    for (const ws of this.ctx.getWebSockets()) {
      const me = attachment(ws);
      if (me?.user !== undefined) continue;
      const due = (me?.opened ?? 0) + this.#limits.joinTimeoutMs;
      if (due <= now) close(ws, CLOSE_JOIN_TIMEOUT, "join_timeout");
      else next = Math.min(next ?? due, due);
    }
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }

  /**
   * A mention for `user` in `room` (from their object): sent to each of
   * their sockets here whose token admits the room. Returns how many of
   * their sockets this gate holds (0: it may be forgotten).
   */
  push(user: string, room: string, frame: string): number {
    let held = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const me = attachment(ws);
      if (me?.user !== user) continue;
      held++;
      if (admits(claimOf(me), room)) send(ws, frame);
    }
    return held;
  }

  async #authenticate(ws: WebSocket, me: Attachment, token: string): Promise<void> {
    // Token checks this address may make: JOINS_PER_MINUTE × 5 a minute, as for joins (§2.4).
    if (!spendKept(this.ctx.storage.kv, CHECKS, this.#limits.joinsPerMinute * 5))
      return this.#refuse(ws, "rate_limited", "Too many sign-ins from your address; wait a minute.");
    const verified = await verifyIdentity(token, this.#auth);
    if (!verified.ok) return this.#refuse(ws, "auth_invalid", verified.message);
    const { user, rooms } = verified.identity;
    const mine = this.ctx.getWebSockets().filter((s) => attachment(s)?.user === user).length;
    if (mine >= this.#limits.maxSocketsPerUser) {
      return this.#refuse(ws, "too_many_sockets", "You have too many live connections.");
    }
    const next: Attachment = { ...me, user, claimed: rooms !== undefined, ...(rooms ? { rooms: [...rooms] } : {}) };
    ws.serializeAttachment(next);
    try {
      await this.env.USERS.getByName(user).live(me.address);
    } catch (err) {
      console.warn("me gate: telling the user object failed:", errorName(err));
    }
    await this.#sendRooms(ws, next);
  }

  async #sendRooms(ws: WebSocket, me: Attachment): Promise<void> {
    if (me.user === undefined) return;
    try {
      const rooms = await this.env.USERS.getByName(me.user).list(claimOf(me));
      if (rooms === null) send(ws, errorFrame("rate_limited", "Too many room lists; wait a minute."));
      else send(ws, encode({ type: "rooms", rooms }));
    } catch (err) {
      // The socket stays; the client may ask again with `rooms`.
      console.warn("me gate: the user object gave no list:", errorName(err));
      send(ws, errorFrame("internal_error"));
    }
  }

  /** A refused sign-in: the error, then 1008 (§10.3). */
  #refuse(ws: WebSocket, code: "auth_invalid" | "rate_limited" | "too_many_sockets", message?: string): void {
    send(ws, errorFrame(code, message));
    close(ws, CLOSE_JOIN_TIMEOUT, code);
  }
}

function attachment(ws: WebSocket): Attachment | undefined {
  const parsed = v.safeParse(Attachment, ws.deserializeAttachment());
  return parsed.success ? parsed.output : undefined;
}

function claimOf(me: Attachment): string[] | undefined {
  return me.claimed ? (me.rooms ?? []) : undefined;
}

function send(ws: WebSocket, frame: string): void {
  try {
    if (ws.readyState === 1) ws.send(frame);
  } catch {
    // Closed meanwhile.
  }
}

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
