/**
 * The edge-chat wire protocol, version 1: every frame type, its validation,
 * and the name and text rules. docs/protocol.md is the prose version of this
 * file; the room, the tests and the browser client all import from here, so
 * a rule changes in exactly one place.
 */
import * as v from "valibot";

/** Protocol §1: case-sensitive, 1 to 64 characters, not starting with punctuation. */
export const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  replaced: "Your name was reclaimed by a newer connection.",
  internal_error: "The server failed to handle that frame; it may be retried.",
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** Close code sent to a socket whose name was reclaimed with its token. */
export const CLOSE_REPLACED = 4001;

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

export const ClientFrameSchema = v.variant("type", [
  v.object({
    type: v.literal("join"),
    name: v.string(),
    since: v.optional(SinceSchema),
    token: v.optional(v.string()),
  }),
  v.object({
    type: v.literal("chat"),
    text: v.string(),
    id: v.optional(ClientIdSchema),
  }),
  v.object({ type: v.literal("dm"), to: v.string(), text: v.string() }),
  v.object({ type: v.literal("typing") }),
  v.object({ type: v.literal("leave") }),
  v.object({ type: v.literal("ping") }),
]);

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
  if (typeof message !== "string") {
    if (message.byteLength > maxFrameBytes) return fail("too_large");
    return fail("bad_message", "Frames must be UTF-8 text, not binary.");
  }
  if (exceedsUtf8Bytes(message, maxFrameBytes)) {
    return fail("too_large", `Frames may be at most ${maxFrameBytes} bytes.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return fail("bad_json");
  }
  const schema =
    typeof json === "object" && json !== null ? SCHEMA_BY_TYPE.get((json as { type?: unknown }).type) : undefined;
  if (!schema) return fail("bad_message", describeIssue(json, undefined));
  const result = v.safeParse(schema, json);
  if (!result.success) {
    return fail("bad_message", describeIssue(json, result.issues[0]));
  }
  return { ok: true, frame: result.output };
}

function fail(code: ErrorCode, message: string = ERROR_MESSAGES[code]): ParseResult {
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

// ---------------------------------------------------------------------------
// Server → client frames
// ---------------------------------------------------------------------------

export interface ChatFrame {
  type: "chat";
  room: string;
  seq: number;
  name: string;
  text: string;
  ts: number;
  /** Present only when the sender gave one. */
  id?: string;
  /** Present (and true) only on messages posted through the HTTP API. */
  bot?: true;
}

export interface WelcomeFrame {
  type: "welcome";
  room: string;
  name: string;
  users: string[];
  history: ChatFrame[];
  seq: number;
  token: string;
  gap: boolean;
}

export type ServerFrame =
  | WelcomeFrame
  | ChatFrame
  | { type: "joined"; room: string; name: string; count: number; ts: number }
  | { type: "left"; room: string; name: string; count: number; ts: number }
  | { type: "typing"; room: string; name: string }
  | { type: "dm"; from: string; to: string; text: string; ts: number }
  | { type: "pong" }
  | { type: "error"; code: ErrorCode; message: string };

export type ServerFrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

export function encode(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

export function errorFrame(code: ErrorCode, message: string = ERROR_MESSAGES[code]): string {
  return encode({ type: "error", code, message });
}

/**
 * A welcome whose history is spliced in as the already-serialized chat frames
 * the ring stores, so a join never re-serializes up to HISTORY_LIMIT messages.
 * The result is byte-for-byte what `encode` would give for the same frame
 * with `history` moved last.
 */
export function encodeWelcome(welcome: Omit<WelcomeFrame, "history">, historyJson: readonly string[]): string {
  const head = JSON.stringify(welcome);
  return `${head.slice(0, -1)},"history":[${historyJson.join(",")}]}`;
}

// ---------------------------------------------------------------------------
// HTTP API (protocol §4)
// ---------------------------------------------------------------------------

/** Body of POST /api/rooms/:room/messages. Name and text rules are the room's, as for join and chat. */
export const PublishBodySchema = v.object({ name: v.string(), text: v.string() });
export type PublishBody = v.InferOutput<typeof PublishBodySchema>;

export type PublishResult =
  | { ok: true; frame: string }
  | { ok: false; code: "name_invalid" | "name_taken" | "bad_message" | "too_long"; message: string };

/** GET /api/rooms/:room, minus the room name the Worker already knows. */
export interface RoomSnapshot {
  users: string[];
  seq: number;
  /** Messages in the ring now. */
  history: number;
}

// ---------------------------------------------------------------------------
// Names and text
// ---------------------------------------------------------------------------

/**
 * Cc (controls), Cf (format: zero-width joiners, bidi overrides, BOM) and Cs
 * (a lone surrogate, only reachable through a JSON `\ud800` escape) are
 * invisible or unprintable, so two names that look alike could differ by one.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\p{Cf}\p{Cs}]/u;

export type NameResult = { ok: true; name: string; key: string } | { ok: false; message: string };

/**
 * Applies the join rules: trim, NFC, 1..maxChars code points, no Cc/Cf, not
 * `system`. `key` is the identity used for uniqueness and lookups.
 */
export function normalizeName(raw: string, maxChars: number): NameResult {
  const name = raw.trim().normalize("NFC");
  const length = codePointLength(name);
  if (length === 0) return { ok: false, message: "A name needs at least one visible character." };
  if (length > maxChars) return { ok: false, message: `A name may be at most ${maxChars} characters.` };
  if (FORBIDDEN_IN_NAME.test(name)) {
    return { ok: false, message: "A name may not hold control or invisible characters." };
  }
  const key = nameKey(name);
  if (key === "system") return { ok: false, message: "The name `system` is reserved." };
  return { ok: true, name, key };
}

/**
 * Case-insensitive identity of a name: upper- then lower-casing approximates
 * Unicode full case folding (ß, ſ and the Kelvin sign all meet their ASCII
 * twins), and the final NFC keeps composed and decomposed spellings equal.
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}

export type TextCheck = { ok: true } | { ok: false; code: "bad_message" | "too_long"; message: string };

/** The chat and dm text rules: something visible, at most maxChars code points. */
export function checkText(text: string, maxChars: number): TextCheck {
  if (!/\S/u.test(text)) {
    return { ok: false, code: "bad_message", message: "A message needs at least one non-space character." };
  }
  // Each code point is at most two UTF-16 units, so short strings skip the count.
  if (text.length > maxChars && codePointLength(text) > maxChars) {
    return { ok: false, code: "too_long", message: `A message may be at most ${maxChars} characters.` };
  }
  return { ok: true };
}

/** Length in Unicode code points; a lone surrogate counts as one. */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (isHighSurrogate(s.charCodeAt(i)) && isLowSurrogate(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * Whether a string's UTF-8 encoding is longer than `max` bytes, decided
 * without encoding it: every UTF-16 unit is 1..3 bytes (a surrogate pair is
 * 4 bytes for 2 units), so the bounds settle most frames in O(1).
 */
export function exceedsUtf8Bytes(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A low surrogate that completes a pair adds 1: the pair is 4 bytes and
    // its high half already counted 3. So the running total never falls, and
    // crossing `max` early is final.
    const pairLow = isLowSurrogate(c) && isHighSurrogate(s.charCodeAt(i - 1));
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : pairLow ? 1 : 3;
    if (bytes > max) return true;
  }
  return false;
}

// charCodeAt past either end is NaN, which is neither.
function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
