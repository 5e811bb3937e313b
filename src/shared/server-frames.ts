/**
 * What the server sends (protocol §3): one schema per frame type, the types
 * derived from them, every encoder, and the parser a client runs on what
 * arrives. The room builds each frame it sends with these encoders, never by
 * hand and never by echoing a client's frame; the browser client and the
 * tests check every inbound frame against the same schemas, so neither side
 * trusts a cast.
 */
import * as v from "valibot";
import { ERROR_CODES, ERROR_MESSAGES, type ErrorCode } from "./protocol";

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const ChatFrameSchema = v.looseObject({
  type: v.literal("chat"),
  room: v.string(),
  seq: Count,
  name: v.string(),
  text: v.string(),
  /** Milliseconds since the epoch, the server's clock. */
  ts: v.number(),
  /** Present only when the sender gave one. */
  id: v.optional(v.string()),
  /** Present (and true) only on messages posted through the HTTP API. */
  bot: v.optional(v.literal(true)),
});

export const WelcomeFrameSchema = v.looseObject({
  type: v.literal("welcome"),
  room: v.string(),
  name: v.string(),
  users: v.array(v.string()),
  history: v.array(ChatFrameSchema),
  seq: Count,
  token: v.string(),
  gap: v.boolean(),
});

const presence = <T extends "joined" | "left">(type: T) =>
  v.looseObject({ type: v.literal(type), room: v.string(), name: v.string(), count: Count, ts: v.number() });

export const ServerFrameSchema = v.variant("type", [
  WelcomeFrameSchema,
  ChatFrameSchema,
  presence("joined"),
  presence("left"),
  v.looseObject({ type: v.literal("typing"), room: v.string(), name: v.string() }),
  v.looseObject({ type: v.literal("dm"), from: v.string(), to: v.string(), text: v.string(), ts: v.number() }),
  v.looseObject({ type: v.literal("pong") }),
  v.looseObject({ type: v.literal("error"), code: v.picklist(ERROR_CODES), message: v.string() }),
]);

export type ChatFrame = v.InferOutput<typeof ChatFrameSchema>;
export type WelcomeFrame = v.InferOutput<typeof WelcomeFrameSchema>;
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>;
export type ServerFrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/**
 * A frame from the server, validated; undefined for anything that is not
 * one (a newer server's frame type, a broken proxy). The schemas are loose:
 * fields beyond them are kept, not refused, so a newer server's additions
 * are harmless and a test can still see everything the server sent.
 */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = v.safeParse(ServerFrameSchema, json);
  return result.success ? result.output : undefined;
}

// ---------------------------------------------------------------------------
// Encoders: the only places server frames become text.
// ---------------------------------------------------------------------------

export function encode(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

export function errorFrame(code: ErrorCode, message: string = ERROR_MESSAGES[code]): string {
  return encode({ type: "error", code, message });
}

/**
 * A stored chat message as the frame everyone receives. Built field by field
 * so the JSON has one fixed key order and no undefined members, whatever
 * the caller passed: the ring stores these bytes and sends them as they are.
 */
export type StoredChat = Pick<ChatFrame, "room" | "seq" | "name" | "text" | "ts" | "id" | "bot">;

export function encodeChat(message: StoredChat): string {
  const { room, seq, name, text, ts, id, bot } = message;
  const chat: ChatFrame = { type: "chat", room, seq, name, text, ts };
  if (id !== undefined) chat.id = id;
  if (bot) chat.bot = true;
  return encode(chat);
}

/**
 * A welcome whose history is spliced in as the already-serialized chat frames
 * the ring stores, so a join never re-serializes up to HISTORY_LIMIT messages.
 * The result is byte-for-byte what `encode` would give for the same frame
 * with `history` moved last.
 */
export type WelcomeHead = Pick<WelcomeFrame, "type" | "room" | "name" | "users" | "seq" | "token" | "gap">;

export function encodeWelcome(welcome: WelcomeHead, historyJson: readonly string[]): string {
  const head = JSON.stringify(welcome);
  return `${head.slice(0, -1)},"history":[${historyJson.join(",")}]}`;
}

export function encodePresence(type: "joined" | "left", room: string, name: string, count: number, ts: number): string {
  return encode({ type, room, name, count, ts });
}
