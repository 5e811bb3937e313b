/**
 * The edge-chat wire protocol: the constants, the error codes and the frames
 * a client sends, with their validation. The wire module is this folder:
 * server-frames.ts (what the server sends, and its encoders), text.ts and
 * names.ts (the text and name rules), limits.ts (the limits' defaults).
 * The Worker, the room, the browser client and the tests all import these
 * files at runtime, so every rule is written once; docs/protocol.md is the
 * prose version.
 */
import * as v from "valibot";
import { FileIdSchema, MAX_FILES_PER_MESSAGE } from "./files";
import { codePointLength, exceedsUtf8Bytes } from "./text";

/** Protocol §1: case-sensitive, 1 to 64 characters, not starting with punctuation. */
export const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** ROOM_NAME in words, for people. */
export const ROOM_NAME_RULE =
  "Room names are 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit.";

// ---------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------

/** Every `error.code` the server sends, with the text a person reads. */
export const ERROR_MESSAGES = {
  bad_json: "The frame is not valid JSON.",
  bad_message: "The frame is not a valid edge-chat message.",
  too_large: "The frame is larger than the server accepts.",
  name_invalid: "That name is not allowed.",
  name_taken: "That name is already in use in this room.",
  already_joined: "This connection has already joined the room.",
  not_joined: "Join the room first.",
  too_long: "The message is too long.",
  rate_limited: "You are sending too fast; the message was not sent.",
  no_such_user: "No user of that name is in this room.",
  room_full: "The room is full.",
  too_many_sockets: "Too many connections from your address to this room.",
  replaced: "Your name was reclaimed by a newer connection.",
  auth_invalid: "The identity token is not valid.",
  auth_required: "This room needs you to sign in.",
  forbidden: "You may not do that here.",
  kicked: "A moderator removed you from the room.",
  banned: "You are banned from this room.",
  muted: "You are muted in this room.",
  slow_mode: "Slow mode is on: wait before sending another message.",
  not_found: "No such message in this room.",
  too_many_reactions: "That message has as many different reactions as it can hold.",
  internal_error: "The server failed to handle that frame; it may be retried.",
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;
export const ERROR_CODES = Object.keys(ERROR_MESSAGES) as [ErrorCode, ...ErrorCode[]];

/** Close code sent to a socket whose name was reclaimed with its token. */
export const CLOSE_REPLACED = 4001;
/** Close code for every socket of a member who was kicked or banned (§6.2). */
export const CLOSE_KICKED = 4003;
/** Close code (policy violation) for a socket that did not join within JOIN_TIMEOUT_MS. */
export const CLOSE_JOIN_TIMEOUT = 1008;

/** Protocol §5.1, §6.1: what a member may do. Guests are `member`s. */
export const ROLES = ["member", "moderator", "admin"] as const;
export type Role = (typeof ROLES)[number];
/** A token without `role`, and every guest (§5.1, §6.1). */
export const DEFAULT_ROLE: Role = "member";

/** §6.1: moderators and admins may moderate; members and guests may not. An absent role is a member's. */
export function isStaff(role: Role | undefined): boolean {
  return role === "moderator" || role === "admin";
}

/** §6.2: the longest moderation `reason`, in code points. */
export const MAX_REASON_CHARS = 200;
/** §6.2: the longest slow mode, in seconds. */
export const MAX_SLOWMODE_SECONDS = 3600;
/**
 * The longest timed ban or mute edge-chat accepts, in minutes (ten years):
 * longer is what "no `minutes`" (until lifted) is for, and it keeps every
 * `until` a safe integer.
 */
export const MAX_SANCTION_MINUTES = 5_256_000;

/** §7.2: at most this many distinct emoji on one message. */
export const MAX_REACTION_EMOJI = 20;
/**
 * edge-chat's own bound (docs/protocol.md §7.2): reactions on one message,
 * all emoji together. The room keeps who reacted, in memory and in the
 * message's row, and without a bound a 5,000-member room could put 100,000
 * reactors on one message: past SQLite's 2 MB row, and ~1 GB over a ring.
 */
export const MAX_REACTIONS_PER_MESSAGE = 1000;
/**
 * §7.3 (version 3): a reaction summary names at most this many reactors per
 * emoji, so a message's stored form, and every version-2 `update` of its
 * reactions, stays small however many react (50 made 132 KB frames).
 */
export const REACTION_NAMES = 10;
/** §7.2: an emoji is 1 to this many code points. */
export const MAX_EMOJI_CHARS = 8;

/** §9.4: a roster page's default and largest size, and the longest `prefix` (code points). */
export const DEFAULT_MEMBERS_PAGE = 100;
export const MAX_MEMBERS_PAGE = 200;
export const MAX_MEMBERS_PREFIX = 32;

/** §9.4: a `members` prefix matches a name's start without regard to case. */
export function hasNamePrefix(name: string, prefix: string): boolean {
  return name.toLowerCase().startsWith(prefix.toLowerCase());
}
/** edge-chat's bound on a `members` cursor (UTF-16 units): a name and a `sub` fit many times over. */
export const MAX_CURSOR_LENGTH = 1024;

/** §8.2, §8.3: a page's size when the frame gives none (each capped at HISTORY_PAGE_LIMIT). */
export const DEFAULT_HISTORY_PAGE = 50;
export const DEFAULT_SEARCH_PAGE = 20;

/** Protocol §2.4: at most one `typing` per user is relayed in this window. */
export const TYPING_INTERVAL_MS = 2000;

// ---------------------------------------------------------------------------
// Client → server frames
// ---------------------------------------------------------------------------

// Valibot rather than hand-written checks: it is tree-shaken to a few KB,
// needs no Node built-ins, and gives the discriminated union its type.
const SinceSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const ClientIdSchema = v.pipe(
  v.string(),
  v.check((id) => {
    const n = codePointLength(id);
    return n >= 1 && n <= 64;
  }, "id must be 1 to 64 characters"),
);

const ReasonSchema = v.pipe(
  v.string(),
  v.check((r) => codePointLength(r) <= MAX_REASON_CHARS, `reason may be at most ${MAX_REASON_CHARS} characters`),
);
const MessageSeqSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
/**
 * Bidirectional controls (U+200E–U+200F, U+202A–U+202E, U+2066–U+2069):
 * one in an emoji or a `sub` would reorder whatever a client draws after it
 * ("evil 1" as "1 live"), so §5.1 and §7.2 refuse them outright.
 */
export const BIDI_CONTROL = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const EmojiSchema = v.pipe(
  v.string(),
  v.check((e) => {
    const n = codePointLength(e);
    return n >= 1 && n <= MAX_EMOJI_CHARS && !/[\s\p{Cc}]/u.test(e) && !BIDI_CONTROL.test(e);
  }, `emoji must be 1 to ${MAX_EMOJI_CHARS} characters without white space, control or direction characters`),
);
const PageLimitSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
/** A `members` cursor is the `next` of an earlier answer; any string is compared, none is parsed. */
const CursorSchema = v.pipe(v.string(), v.maxLength(MAX_CURSOR_LENGTH));
const MinutesSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_SANCTION_MINUTES));

export const ClientFrameSchema = v.variant("type", [
  v.object({
    type: v.literal("join"),
    // Required for guests; a join with `auth` takes its name from the token.
    name: v.optional(v.string()),
    since: v.optional(SinceSchema),
    token: v.optional(v.string()),
    /** An identity token (§5.2); with it, `name` is ignored and may be absent. */
    auth: v.optional(v.string()),
    /** §9.1: 3 (or higher) opts this socket into version 3's frames. */
    protocol: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1))),
  }),
  v.object({
    type: v.literal("chat"),
    text: v.string(),
    id: v.optional(ClientIdSchema),
    /** §7.2: the seq of the message this one answers. */
    replyTo: v.optional(MessageSeqSchema),
    /** §11.2: 1 to 4 of the sender's own unattached uploads, each once. */
    files: v.optional(
      v.pipe(
        v.array(FileIdSchema),
        v.minLength(1, "give 1 to 4 file ids, or no `files`"),
        v.maxLength(MAX_FILES_PER_MESSAGE, `at most ${MAX_FILES_PER_MESSAGE} files`),
        v.check((ids) => new Set(ids).size === ids.length, "each file at most once"),
      ),
    ),
  }),
  // The message lifecycle (§7.2).
  v.object({ type: v.literal("edit"), seq: MessageSeqSchema, text: v.string() }),
  v.object({ type: v.literal("delete"), seq: MessageSeqSchema }),
  v.object({ type: v.literal("react"), seq: MessageSeqSchema, emoji: EmojiSchema }),
  v.object({ type: v.literal("dm"), to: v.string(), text: v.string() }),
  // History beyond the ring and search (§8). `limit` is checked against
  // HISTORY_PAGE_LIMIT by the room, which knows it.
  v.object({
    type: v.literal("history"),
    before: v.optional(MessageSeqSchema),
    after: v.optional(SinceSchema),
    limit: v.optional(PageLimitSchema),
  }),
  // §9.4: the roster, page by page.
  v.object({
    type: v.literal("members"),
    after: v.optional(CursorSchema),
    prefix: v.optional(
      v.pipe(
        v.string(),
        v.check(
          (p) => codePointLength(p) <= MAX_MEMBERS_PREFIX,
          `prefix may be at most ${MAX_MEMBERS_PREFIX} characters`,
        ),
      ),
    ),
    limit: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_MEMBERS_PAGE))),
  }),
  v.object({
    type: v.literal("search"),
    q: v.string(),
    before: v.optional(MessageSeqSchema),
    limit: v.optional(PageLimitSchema),
  }),
  // §10.1: the user has read everything up to `seq`.
  v.object({ type: v.literal("read"), seq: SinceSchema }),
  v.object({ type: v.literal("typing") }),
  v.object({ type: v.literal("leave") }),
  v.object({ type: v.literal("ping") }),
  // Moderation (§6.2): moderators and admins only.
  v.object({ type: v.literal("kick"), name: v.string(), reason: v.optional(ReasonSchema) }),
  v.object({
    type: v.literal("ban"),
    name: v.string(),
    minutes: v.optional(MinutesSchema),
    reason: v.optional(ReasonSchema),
  }),
  v.object({ type: v.literal("unban"), name: v.string() }),
  v.object({ type: v.literal("mute"), name: v.string(), minutes: MinutesSchema, reason: v.optional(ReasonSchema) }),
  v.object({ type: v.literal("unmute"), name: v.string() }),
  v.object({
    type: v.literal("slowmode"),
    seconds: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_SLOWMODE_SECONDS)),
  }),
]);

/**
 * §10.3: what a client sends on its `/me` socket: `auth` first, then
 * `rooms` to ask for the list again; `ping` as on a room's socket.
 */
export const MeFrameSchema = v.variant("type", [
  v.object({ type: v.literal("auth"), auth: v.string() }),
  v.object({ type: v.literal("rooms") }),
  v.object({ type: v.literal("ping") }),
]);
export type MeFrame = v.InferOutput<typeof MeFrameSchema>;

/** The moderation frames of §6.2, which the HTTP API (§6.4) also takes as `{"action", …}`. */
export const MODERATION_ACTIONS = ["kick", "ban", "unban", "mute", "unmute", "slowmode"] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];

export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>;

/**
 * The variant's options by their `type`. Parsing looks the schema up by the
 * frame's own `type` instead of letting v.variant try each option: the same
 * rules, but the room's hottest path (every chat) no longer pays for a
 * discriminator search that showed as a tenth of the room's CPU in profiles.
 */
type FrameSchema = (typeof ClientFrameSchema.options)[number];
const SCHEMA_BY_TYPE = new Map<unknown, FrameSchema>(ClientFrameSchema.options.map((o) => [o.entries.type.literal, o]));
export type ClientFrameOf<T extends ClientFrame["type"]> = Extract<ClientFrame, { type: T }>;
export type ModerationFrame = ClientFrameOf<ModerationAction>;

export function isModerationFrame(frame: ClientFrame): frame is ModerationFrame {
  return MODERATION_ACTIONS.some((action) => action === frame.type);
}

/**
 * Exactly the text the runtime answers by itself (ctx.setWebSocketAutoResponse)
 * without waking the object. Any other spelling of a ping reaches the object
 * and gets the same answer from the ping handler.
 */
export const PING_TEXT = '{"type":"ping"}';
export const PONG_TEXT = '{"type":"pong"}';

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string };

/**
 * Turns one inbound WebSocket message into a validated frame or the single
 * error it earns. Size is checked before anything else so an oversized frame
 * costs no JSON parsing.
 */
export function parseClientFrame(message: string | ArrayBuffer, maxFrameBytes: number): ParseResult {
  const read = readJson(message, maxFrameBytes);
  if (!read.ok) return read;
  const { json } = read;
  const schema =
    typeof json === "object" && json !== null && "type" in json ? SCHEMA_BY_TYPE.get(json.type) : undefined;
  if (!schema) return fail("bad_message", describeIssue(json, undefined));
  const result = v.safeParse(schema, json);
  if (!result.success) {
    return fail("bad_message", describeIssue(json, result.issues[0]));
  }
  return { ok: true, frame: result.output };
}

/** A `/me` socket's frame (§10.3), by the same rules as a room's. */
export function parseMeFrame(
  message: string | ArrayBuffer,
  maxFrameBytes: number,
): { ok: true; frame: MeFrame } | { ok: false; code: ErrorCode; message: string } {
  const read = readJson(message, maxFrameBytes);
  if (!read.ok) return read;
  const result = v.safeParse(MeFrameSchema, read.json);
  return result.success
    ? { ok: true, frame: result.output }
    : fail("bad_message", describeIssue(read.json, result.issues[0]));
}

/** Size first, so an oversized frame costs no JSON parsing; then text, then JSON. */
function readJson(
  message: string | ArrayBuffer,
  maxFrameBytes: number,
): { ok: true; json: unknown } | { ok: false; code: ErrorCode; message: string } {
  if (typeof message !== "string") {
    if (message.byteLength > maxFrameBytes) return fail("too_large");
    return fail("bad_message", "Frames must be UTF-8 text, not binary.");
  }
  if (exceedsUtf8Bytes(message, maxFrameBytes)) {
    return fail("too_large", `Frames may be at most ${maxFrameBytes} bytes.`);
  }
  try {
    return { ok: true, json: JSON.parse(message) };
  } catch {
    return fail("bad_json");
  }
}

function fail(
  code: ErrorCode,
  message: string = ERROR_MESSAGES[code],
): { ok: false; code: ErrorCode; message: string } {
  return { ok: false, code, message };
}

function describeIssue(json: unknown, issue: v.BaseIssue<unknown> | undefined): string {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return "A frame must be a JSON object with a string field `type`.";
  }
  const path = issue?.path?.map((p) => String(p.key)).join(".");
  if (!path || path === "type") {
    return "Unknown or missing `type`.";
  }
  return `Field \`${path}\`: ${issue?.message ?? "invalid"}.`;
}
