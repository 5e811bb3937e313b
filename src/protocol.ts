/**
 * The edge-chat wire protocol, version 1: every frame type, its validation,
 * and the name and text rules. docs/protocol.md is the prose version of this
 * file; the room, the tests and the browser client all import from here, so
 * a rule changes in exactly one place.
 */
import unhomoglyph from "unhomoglyph";
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
  too_many_sockets: "Too many connections from your address to this room.",
  replaced: "Your name was reclaimed by a newer connection.",
  internal_error: "The server failed to handle that frame; it may be retried.",
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** Close code sent to a socket whose name was reclaimed with its token. */
export const CLOSE_REPLACED = 4001;
/** Close code (policy violation) for a socket that did not join within JOIN_TIMEOUT_MS. */
export const CLOSE_JOIN_TIMEOUT = 1008;

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
 * Refused anywhere in a name, because two names that look alike could differ
 * by one of them, or a name could look empty:
 * - Cc (controls), Cf (format: zero-width joiners, bidi overrides, BOM) and
 *   Cs (a lone surrogate, only reachable through a JSON `\ud800` escape);
 * - default-ignorable code points (variation selectors U+FE0F and U+E0100,
 *   U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, U+17B4,
 *   U+180B, …): renderers draw nothing for them;
 * - private-use (Co) and unassigned (Cn) code points, which render as
 *   whatever a font decides, and U+2800 BRAILLE PATTERN BLANK, a visible-width
 *   blank that Unicode classes as a symbol.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Default_Ignorable_Code_Point}\u2800]/u;
/** A letter, digit, punctuation or symbol: what makes a name visible at all. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

export type NameResult = { ok: true; name: string; key: string } | { ok: false; message: string };

/**
 * Applies the join rules: trim, NFC, 1..maxChars code points, nothing
 * invisible (above), at least one visible character, and not `system` or a
 * look-alike of it. `key` is the identity used for uniqueness and lookups.
 */
export function normalizeName(raw: string, maxChars: number): NameResult {
  const name = raw.trim().normalize("NFC");
  const length = codePointLength(name);
  if (length === 0) return { ok: false, message: "A name needs at least one visible character." };
  if (length > maxChars) return { ok: false, message: `A name may be at most ${maxChars} characters.` };
  if (FORBIDDEN_IN_NAME.test(name)) {
    return { ok: false, message: "A name may not hold control or invisible characters." };
  }
  if (!VISIBLE.test(name)) return { ok: false, message: "A name needs at least one visible character." };
  const key = nameKey(name);
  if (key === SYSTEM_KEY) return { ok: false, message: "The name `system` is reserved." };
  return { ok: true, name, key };
}

/**
 * The identity of a name: two names with the same key cannot both be held.
 * It is case-insensitive and, from protocol v2, blind to look-alikes: the
 * confusable skeleton of Unicode UTS #39 (the `unhomoglyph` package ships the
 * mapping of confusables.txt), so `Аlice` (Cyrillic А), `Αlice` (Greek),
 * `Ａｌｉｃｅ` (fullwidth) and `𝐀lice` (mathematical bold) all meet `alice`.
 *
 * How: NFKC first folds compatibility forms the skeleton map leaves alone
 * (fullwidth, mathematical letters, ligatures, the long s ſ). Then the
 * skeleton is taken of the lower-, the upper- and again the lower-case form:
 * case-insensitivity and look-alikes must compose, and some look-alikes
 * exist in one case only (upper-case `I` looks like `l`, Greek `ν` like `v`),
 * so `Ian`, `ian` and `lan` all end on one key. Upper- then lower-casing
 * also approximates Unicode full case folding (ß, the Kelvin sign, Ǆ). The
 * key is never shown to anyone (`m` becomes `rn` in it); it is only compared.
 */
export function nameKey(name: string): string {
  const lower = skeleton(name.normalize("NFKC").toLowerCase());
  return skeleton(skeleton(lower.toUpperCase()).toLowerCase());
}

/** UTS #39 skeleton: NFD, map each confusable to its prototype, NFD again. */
function skeleton(s: string): string {
  return unhomoglyph(s.normalize("NFD")).normalize("NFD");
}

const SYSTEM_KEY = nameKey("system");

export type TextCheck = { ok: true } | { ok: false; code: "bad_message" | "too_long"; message: string };

/**
 * C0 and C1 controls (Unicode Cc) except tab and newline. They print as
 * nothing, and JSON escapes each to six bytes (`\u0001`), so a text of them
 * is the cheapest way to make every welcome six times its input.
 */
const CONTROL_IN_TEXT = /[^\P{Cc}\t\n]/u;

/** The chat and dm text rules: something visible, no controls, at most maxChars code points. */
export function checkText(text: string, maxChars: number): TextCheck {
  if (!/\S/u.test(text)) {
    return { ok: false, code: "bad_message", message: "A message needs at least one non-space character." };
  }
  if (CONTROL_IN_TEXT.test(text)) {
    return {
      ok: false,
      code: "bad_message",
      message: "A message may not hold control characters other than newline and tab.",
    };
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

/** UTF-8 length without encoding: 1 byte below U+0080, 2 below U+0800, 3 above, 4 per surrogate pair. */
export function utf8Length(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is two units and four bytes: each half adds one.
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

// charCodeAt past either end is NaN, which is neither.
function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
