/**
 * What the server sends (protocol §3): one schema per frame type, the types
 * derived from them, every encoder, and the parser a client runs on what
 * arrives. The room builds each frame it sends with these encoders, never by
 * hand and never by echoing a client's frame; the browser client and the
 * tests check every inbound frame against the same schemas, so neither side
 * trusts a cast.
 */
import * as v from "valibot";
import { ERROR_CODES, ERROR_MESSAGES, type ErrorCode, MODERATION_ACTIONS, ROLES } from "./protocol";

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/**
 * §5.2: the `sub` of a verified user, on every frame about them; frames
 * about guests never carry it, so its presence is what tells them apart.
 */
const User = v.optional(v.string());

/** §7.3: per emoji, how many reacted and the first REACTION_NAMES of them, in reaction order. */
export const ReactionsSchema = v.record(v.string(), v.looseObject({ count: Count, names: v.array(v.string()) }));

/** A member as presence and mentions name them: verified users also by `user` (§5.2, §9.2, §10.2). */
export const MemberEntrySchema = v.looseObject({ name: v.string(), user: User });

/** §11.1: an uploaded file as the room stores it on its message. */
export const StoredFileSchema = v.looseObject({
  id: v.string(),
  name: v.string(),
  type: v.string(),
  size: Count,
  /** Images only: pixels, read from the file's header. */
  width: v.optional(Count),
  height: v.optional(Count),
});

/** §11.2, §11.3: a file as every answer carries it, with a URL signed afresh for that answer. */
export const FileSchema = v.looseObject({ ...StoredFileSchema.entries, url: v.string() });

export const ChatFrameSchema = v.looseObject({
  type: v.literal("chat"),
  room: v.string(),
  seq: Count,
  /** §7.1: the seq of the message's latest change (== seq for a message never changed). */
  v: Count,
  name: v.string(),
  user: User,
  /** "" once deleted. */
  text: v.string(),
  /** Milliseconds since the epoch, the server's clock. */
  ts: v.number(),
  /** Present only when the sender gave one. */
  id: v.optional(v.string()),
  /** Present (and true) only on messages posted through the HTTP API. */
  bot: v.optional(v.literal(true)),
  /** §7.2: the message this one answers. */
  replyTo: v.optional(Count),
  /** When it was last edited (ms). */
  edited: v.optional(v.number()),
  deleted: v.optional(v.literal(true)),
  /** Only when non-empty. */
  reactions: v.optional(ReactionsSchema),
  /** §11.2: the attached files, in the order given; absent without files and on a deleted message. */
  files: v.optional(v.array(FileSchema)),
  /** §10.2: who the text mentions, each once, at most 20; absent when nobody. */
  mentions: v.optional(v.array(MemberEntrySchema)),
});

/** A chat frame as the room stores it: its files without URLs, which each answer signs afresh (§11.3). */
export const StoredChatSchema = v.looseObject({
  ...ChatFrameSchema.entries,
  files: v.optional(v.array(StoredFileSchema)),
});

/** §7.3: one change to a stored message, as everyone receives it. */
export const UpdateFrameSchema = v.looseObject({
  type: v.literal("update"),
  room: v.string(),
  /** The change's own number (and `v`); `target` is the message's. */
  seq: Count,
  target: Count,
  v: Count,
  text: v.optional(v.string()),
  edited: v.optional(v.number()),
  deleted: v.optional(v.literal(true)),
  reactions: v.optional(ReactionsSchema),
  /** §7.3, version-3 sockets: the one reaction change instead of the summary. */
  reaction: v.optional(
    v.looseObject({ emoji: v.string(), name: v.string(), user: User, added: v.boolean(), count: Count }),
  ),
  /** §10.2: an edit always carries who the new text mentions (`[]`: nobody). */
  mentions: v.optional(v.array(MemberEntrySchema)),
});

/** §10.1: one other user's read cursor, as a read receipt. */
export const ReadEntrySchema = v.looseObject({ name: v.string(), user: v.string(), seq: Count });

/** §10.3: one room of a user's list, its counts as of the moment it is served. */
export const UserRoomSchema = v.looseObject({
  room: v.string(),
  seq: Count,
  lastRead: Count,
  unread: Count,
  mentions: Count,
  ts: v.nullable(v.number()),
});

/** §6.3: a moderation action, as everyone in the room sees it. */
export const ModerationFrameSchema = v.looseObject({
  type: v.literal("moderation"),
  room: v.string(),
  action: v.picklist(MODERATION_ACTIONS),
  /** The member acted on; absent for slowmode. */
  name: v.optional(v.string()),
  user: User,
  /** The actor's name, or "system" for the HTTP API and for a ban or mute that ran out. */
  by: v.string(),
  until: v.optional(v.nullable(v.number())),
  reason: v.optional(v.string()),
  /** slowmode: the new interval (edge-chat's addition; `welcome.settings` carries it too). */
  seconds: v.optional(Count),
  ts: v.number(),
});

/** §9.2: a member who left, and `reason` when a moderator removed them. */
export const LeftEntrySchema = v.looseObject({
  name: v.string(),
  user: User,
  reason: v.optional(v.picklist(["kicked", "banned"])),
});

export const WelcomeFrameSchema = v.looseObject({
  type: v.literal("welcome"),
  room: v.string(),
  name: v.string(),
  user: User,
  /** Version 2's names in join order; a version-3 welcome (§9.2) leaves it out. */
  users: v.optional(v.array(v.string())),
  /**
   * §5.2: the members in join order, with `user` for the verified ones.
   * Absent only from a version-3 welcome into a large room (§9.3).
   */
  members: v.optional(v.array(MemberEntrySchema)),
  /** §9.2, version-3 welcomes: the members, the joiner included. */
  count: v.optional(Count),
  /** §9.3: present (and true) when the room is large. */
  large: v.optional(v.literal(true)),
  /** The joiner's role (§6.1); `member` for guests. */
  role: v.picklist(ROLES),
  /** §6.3: the room's settings. */
  settings: v.looseObject({ slowmode: Count }),
  history: v.array(ChatFrameSchema),
  seq: Count,
  token: v.string(),
  gap: v.boolean(),
  /** §10.1, §10.2: a verified user's read state, in a version-3 welcome. */
  lastRead: v.optional(Count),
  unread: v.optional(Count),
  mentions: v.optional(Count),
  reads: v.optional(v.array(ReadEntrySchema)),
});

const presence = <T extends "joined" | "left">(type: T) =>
  v.looseObject({
    type: v.literal(type),
    room: v.string(),
    name: v.string(),
    user: User,
    count: Count,
    ts: v.number(),
    /** `left` only: "kicked" or "banned" when a moderator removed them (§6.2). */
    reason: v.optional(v.string()),
  });

export const ServerFrameSchema = v.variant("type", [
  WelcomeFrameSchema,
  ChatFrameSchema,
  UpdateFrameSchema,
  presence("joined"),
  presence("left"),
  v.looseObject({ type: v.literal("typing"), room: v.string(), name: v.string(), user: User }),
  v.looseObject({
    type: v.literal("dm"),
    from: v.string(),
    /** §5.2: the sender's `sub` when the sender is verified. */
    user: User,
    to: v.string(),
    text: v.string(),
    ts: v.number(),
  }),
  v.looseObject({ type: v.literal("pong") }),
  v.looseObject({
    type: v.literal("error"),
    code: v.picklist(ERROR_CODES),
    message: v.string(),
    /** `kicked`, `banned`: why, when the moderator said. */
    reason: v.optional(v.string()),
    /** `banned`, `muted`: when it ends (ms since the epoch), or null: until lifted. */
    until: v.optional(v.nullable(v.number())),
    /** `slow_mode`: how long until the next chat is accepted, in ms. */
    retry_after: v.optional(v.number()),
  }),
  ModerationFrameSchema,
  // §9.2, §9.3: a version-3 socket's batched presence.
  v.looseObject({
    type: v.literal("presence"),
    room: v.string(),
    joined: v.array(MemberEntrySchema),
    left: v.array(LeftEntrySchema),
    count: Count,
    ts: v.number(),
    /** Only on the one frame at each crossing of ROSTER_LIMIT. */
    large: v.optional(v.boolean()),
    /** With `large: false`: the whole roster in join order, the receiver included. */
    members: v.optional(v.array(MemberEntrySchema)),
    /** §10.1: other users' read cursors, in a room that is not large. */
    reads: v.optional(v.array(ReadEntrySchema)),
  }),
  // §10.1: the user's own cursor moved on another of their sockets.
  v.looseObject({ type: v.literal("read"), room: v.string(), seq: Count }),
  // §10.3: on a `/me` socket, the user's rooms and each mention of them.
  v.looseObject({ type: v.literal("rooms"), rooms: v.array(UserRoomSchema) }),
  v.looseObject({
    type: v.literal("mention"),
    room: v.string(),
    seq: Count,
    name: v.string(),
    user: User,
    text: v.string(),
    ts: v.number(),
  }),
  // §9.4: a page of the roster, ordered by name.
  v.looseObject({
    type: v.literal("members"),
    room: v.string(),
    members: v.array(MemberEntrySchema),
    next: v.nullable(v.string()),
    count: Count,
  }),
  // §8.2, §8.3: answers to this socket's own `history` and `search`.
  v.looseObject({
    type: v.literal("history"),
    room: v.string(),
    messages: v.array(ChatFrameSchema),
    more: v.boolean(),
  }),
  v.looseObject({
    type: v.literal("search"),
    room: v.string(),
    q: v.string(),
    results: v.array(ChatFrameSchema),
    more: v.boolean(),
  }),
]);

export type ChatFrame = v.InferOutput<typeof ChatFrameSchema>;
export type UpdateFrame = v.InferOutput<typeof UpdateFrameSchema>;
export type Reactions = v.InferOutput<typeof ReactionsSchema>;
export type WelcomeFrame = v.InferOutput<typeof WelcomeFrameSchema>;
export type MemberEntry = v.InferOutput<typeof MemberEntrySchema>;
export type LeftEntry = v.InferOutput<typeof LeftEntrySchema>;
export type ReadEntry = v.InferOutput<typeof ReadEntrySchema>;
export type UserRoom = v.InferOutput<typeof UserRoomSchema>;
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

/** Extra fields some errors carry (§6.2): `reason`, `until`, `retry_after`. */
export type ErrorDetails = Pick<ServerFrameOf<"error">, "reason" | "until" | "retry_after">;

export function errorFrame(code: ErrorCode, message: string = ERROR_MESSAGES[code], details?: ErrorDetails): string {
  return encode({ type: "error", code, message, ...details });
}

/**
 * A stored chat message as the frame everyone receives. Built field by field
 * so the JSON has one fixed key order and no undefined members, whatever
 * the caller passed: the ring stores these bytes and sends them as they are.
 */
export type StoredChat = Pick<
  v.InferOutput<typeof StoredChatSchema>,
  | "room"
  | "seq"
  | "v"
  | "name"
  | "user"
  | "text"
  | "ts"
  | "id"
  | "bot"
  | "replyTo"
  | "edited"
  | "deleted"
  | "reactions"
  | "files"
  | "mentions"
>;
export type StoredFile = v.InferOutput<typeof StoredFileSchema>;
export type FileInfo = v.InferOutput<typeof FileSchema>;

/**
 * The stored form (files without URLs) when `url` is absent; the form a
 * client receives when `url` signs each file (§11.3).
 */
export function encodeChat(message: StoredChat, url?: (file: StoredFile) => string): string {
  return encodeNumbered(message, message.seq, message.v, url);
}

/**
 * A new message's stored frame, numbered `seq` (its `v` is the same). The
 * chat path's own entry: spreading a message into a copy with the two
 * numbers added, to call encodeChat, cost the room core's chat path about
 * a third of its time in Node (npm run bench:core; workerd's V8 minds it
 * less, docs/benchmarks.md).
 */
export function encodeNewChat(message: Omit<StoredChat, "seq" | "v">, seq: number): string {
  return encodeNumbered(message, seq, seq);
}

function encodeNumbered(
  message: Omit<StoredChat, "seq" | "v">,
  seq: number,
  version: number,
  url?: (file: StoredFile) => string,
): string {
  const { room, name, user, text, ts, id, bot, replyTo, edited, deleted, reactions, files, mentions } = message;
  const chat: v.InferOutput<typeof StoredChatSchema> = { type: "chat", room, seq, v: version, name, text, ts };
  if (user !== undefined) chat.user = user;
  if (id !== undefined) chat.id = id;
  if (bot) chat.bot = true;
  if (replyTo !== undefined) chat.replyTo = replyTo;
  if (edited !== undefined) chat.edited = edited;
  if (deleted) chat.deleted = true;
  if (reactions !== undefined && Object.keys(reactions).length > 0) chat.reactions = reactions;
  if (files !== undefined && files.length > 0 && !deleted) {
    chat.files = files.map((f) => encodeFile(f, url));
  }
  if (mentions !== undefined && mentions.length > 0 && !deleted) chat.mentions = mentions.map(person);
  // Not `encode`: without `url` this is the stored form, which no client receives as it is.
  return JSON.stringify(chat);
}

/** One file in a fixed key order; `url` only when signing. */
export function encodeFile(file: StoredFile, url?: (file: StoredFile) => string): FileInfo | StoredFile {
  const { id, name, type, size, width, height } = file;
  const out: StoredFile & { url?: string } = { id, name, type, size };
  if (width !== undefined) out.width = width;
  if (height !== undefined) out.height = height;
  if (url) out.url = url(file);
  return out;
}

/** An update frame in one fixed key order, with only the fields of its kind of change. */
export function encodeUpdate(
  update: Pick<
    UpdateFrame,
    "room" | "seq" | "target" | "v" | "text" | "edited" | "deleted" | "reactions" | "reaction" | "mentions"
  >,
): string {
  const { room, seq, target, v: version, text, edited, deleted, reactions, reaction, mentions } = update;
  const frame: UpdateFrame = { type: "update", room, seq, target, v: version };
  if (text !== undefined) frame.text = text;
  if (edited !== undefined) frame.edited = edited;
  if (deleted) frame.deleted = true;
  if (reactions !== undefined) frame.reactions = reactions;
  if (reaction !== undefined) {
    const { emoji, name, user, added, count } = reaction;
    frame.reaction = { emoji, ...person({ name, user }), added, count };
  }
  if (mentions !== undefined) frame.mentions = mentions.map(person);
  return encode(frame);
}

/**
 * A welcome whose history is spliced in as the already-serialized chat frames
 * the ring stores, so a join never re-serializes up to HISTORY_LIMIT messages.
 * The result is byte-for-byte what `encode` would give for the same frame
 * with `history` moved last.
 */
// Pick, not Omit: the loose schema's index signature would make Omit's keys `string`, and check nothing.
export type WelcomeHead = Pick<
  WelcomeFrame,
  | "type"
  | "room"
  | "name"
  | "user"
  | "users"
  | "members"
  | "count"
  | "large"
  | "role"
  | "settings"
  | "seq"
  | "token"
  | "gap"
  | "lastRead"
  | "unread"
  | "mentions"
  | "reads"
>;

export function encodeWelcome(welcome: WelcomeHead, historyJson: readonly string[]): string {
  const head = JSON.stringify(welcome);
  return `${head.slice(0, -1)},"history":[${historyJson.join(",")}]}`;
}

/**
 * §8.2 and §8.3 (and the HTTP routes of §8.4, which add no `type`): a page
 * of stored frames spliced in as they are, like the welcome's history.
 */
export function encodeHistory(room: string, frames: readonly string[], more: boolean, type = true): string {
  const head = type ? `{"type":"history","room":${JSON.stringify(room)}` : `{"room":${JSON.stringify(room)}`;
  return `${head},"messages":[${frames.join(",")}],"more":${more}}`;
}

export function encodeSearch(room: string, q: string, frames: readonly string[], more: boolean, type = true): string {
  const head = type ? `{"type":"search","room":${JSON.stringify(room)}` : `{"room":${JSON.stringify(room)}`;
  return `${head},"q":${JSON.stringify(q)},"results":[${frames.join(",")}],"more":${more}}`;
}

/** Who a frame is about: a name, and the `sub` when the person is verified. */
export interface Person {
  name: string;
  user?: string | undefined;
}

/** `{name}` or `{name, user}`: never a `user` key holding undefined, so the JSON of guests and users stays exact. */
export function person(p: Person): MemberEntry {
  return p.user === undefined ? { name: p.name } : { name: p.name, user: p.user };
}

export function encodePresence(
  type: "joined" | "left",
  room: string,
  who: Person,
  count: number,
  ts: number,
  reason?: "kicked" | "banned",
): string {
  return encode({ type, room, ...person(who), count, ts, ...(reason ? { reason } : {}) });
}

/** §9.2, §9.3: one version-3 `presence` frame, in one fixed key order; `large` and `members` only at a crossing. */
export function encodeBatch(
  frame: Pick<ServerFrameOf<"presence">, "room" | "joined" | "left" | "count" | "ts" | "large" | "members" | "reads">,
): string {
  const { room, joined, left, count, ts, large, members, reads } = frame;
  const out: ServerFrameOf<"presence"> = { type: "presence", room, joined, left, count, ts };
  if (large !== undefined) out.large = large;
  if (members !== undefined) out.members = members;
  if (reads !== undefined && reads.length > 0) out.reads = reads;
  return encode(out);
}
