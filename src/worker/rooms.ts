/**
 * The Worker's way to a room: the name from the route, checked against
 * protocol §1 before any object is touched, and the one object per name.
 * Shared by the socket route (index.ts) and the HTTP API (api.ts).
 */
import type { Context } from "hono";
import type { ChatRoom } from "../room/chat-room";
import { ROOM_NAME } from "../shared/protocol";
import { invalidRoom } from "./http-error";

/** The `:room` route parameter, or a 400 invalid_room. */
export function roomParam(c: Context): string {
  const room = c.req.param("room");
  if (room === undefined || !ROOM_NAME.test(room)) throw invalidRoom();
  return room;
}

export function roomStub(env: Env, room: string): DurableObjectStub<ChatRoom> {
  return env.ROOMS.get(env.ROOMS.idFromName(room));
}
