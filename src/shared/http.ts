/**
 * The HTTP API's shapes (protocol §4, §6.4, and edge-chat's /api/config):
 * one valibot schema per body, in the wire module like the frames, so the
 * Worker builds its answers to these types, and the browser page and the
 * tests check what they receive against the same schemas instead of
 * re-validating by hand or casting.
 */
import * as v from "valibot";
import { ROOM_NAME } from "./protocol";
import { ChatFrameSchema, FileSchema } from "./server-frames";

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

/** Every HTTP error, and the room's refusals of an upgrade (§1, §4). */
export const ErrorBodySchema = v.object({ error: v.string(), message: v.string() });
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

export function httpErrorBody(code: string, message: string): ErrorBody {
  return { error: code, message };
}

/** GET /api/rooms: rooms with at least one joined user, most users first. */
export const RoomListSchema = v.object({
  rooms: v.array(v.object({ room: v.pipe(v.string(), v.regex(ROOM_NAME)), users: Count })),
});
export type RoomList = v.InferOutput<typeof RoomListSchema>;

/** GET /api/rooms/:room, less the room's name (which the Worker adds). */
export const RoomSnapshotSchema = v.object({
  users: v.array(v.string()),
  seq: Count,
  /** Messages in the ring now. */
  history: Count,
});
export type RoomSnapshot = v.InferOutput<typeof RoomSnapshotSchema>;
export const RoomSnapshotBodySchema = v.object({ room: v.string(), ...RoomSnapshotSchema.entries });

/** GET /api/rooms/:room/messages (§4, §7.4, §8.4): messages in their stored form; `more` with `before`. */
export const MessagesPageSchema = v.object({
  room: v.string(),
  messages: v.array(ChatFrameSchema),
  more: v.optional(v.boolean()),
});
export type MessagesPage = v.InferOutput<typeof MessagesPageSchema>;

/** GET /api/rooms/:room/search (§8.4): newest first. */
export const SearchPageSchema = v.object({
  room: v.string(),
  q: v.string(),
  results: v.array(ChatFrameSchema),
  more: v.boolean(),
});
export type SearchPage = v.InferOutput<typeof SearchPageSchema>;

/** POST /api/rooms/:room/messages. Name and text rules are the room's, as for join and chat. */
export const PublishBodySchema = v.object({ name: v.string(), text: v.string() });
export type PublishBody = v.InferOutput<typeof PublishBodySchema>;

export type PublishResult =
  | { ok: true; frame: string }
  | { ok: false; code: "name_invalid" | "name_taken" | "bad_message" | "too_long"; message: string };

const SanctionEntry = v.object({ name: v.string(), user: v.optional(v.string()), until: v.nullable(v.number()) });
/** GET /api/rooms/:room/moderation (§6.4). */
export const ModerationStateSchema = v.object({
  bans: v.array(SanctionEntry),
  mutes: v.array(SanctionEntry),
  slowmode: Count,
});
export type ModerationState = v.InferOutput<typeof ModerationStateSchema>;

/** GET /api/config: what the browser client needs before it connects (edge-chat's own route). */
export const ClientConfigSchema = v.object({
  access: v.picklist(["open", "verified"]),
  /** Where the page gets an identity token for the signed-in visitor (a path on this origin), or null. */
  authEndpoint: v.nullable(v.string()),
  /** §11: null when uploads are off (no FILES_SECRET); else the largest file and the types allowed. */
  uploads: v.nullable(v.object({ maxBytes: Count, types: v.array(v.string()) })),
});

/** POST /api/rooms/:room/files (§11.1): 201. */
export const UploadAnswerSchema = v.object({ file: FileSchema });
export type ClientConfig = v.InferOutput<typeof ClientConfigSchema>;

/** A body checked against a schema; undefined for anything else. */
export function parseBody<T extends v.GenericSchema>(schema: T, json: unknown): v.InferOutput<T> | undefined {
  const result = v.safeParse(schema, json);
  return result.success ? result.output : undefined;
}
