/**
 * The protocol's limits, read from `[vars]` in wrangler.toml. Values written
 * in the TOML arrive as numbers, but `wrangler dev --var NAME:VALUE` and the
 * dashboard deliver strings, so each one is parsed here once and checked: a
 * typo in a deployment should fail loudly, not run with NaN as a limit.
 */

export interface Limits {
  historyLimit: number;
  maxMessageChars: number;
  maxNameChars: number;
  maxFrameBytes: number;
  maxRoomUsers: number;
  rateBurst: number;
  ratePerSec: number;
  /** §2.4: sockets one address may hold in one room, joined or not. */
  maxSocketsPerAddress: number;
  /** §2.4: chat+dm frames one address may send into one room, all its sockets and names together. */
  addressRateBurst: number;
  addressRatePerSec: number;
  /** §2.4: successful joins one socket may make per minute; an address may make five times that. */
  joinsPerMinute: number;
  /** §2.4: a socket that has not joined by then is closed with 1008. */
  joinTimeoutMs: number;
  /** Sockets a room holds that have not joined (yet), from all addresses together. */
  maxUnjoinedSockets: number;
  /** Largest `welcome.history`, in UTF-8 bytes; older messages are left out and `gap` says so. */
  welcomeHistoryBytes: number;
  /** Bytes of replies (welcomes, errors, pongs) one socket may be sent per minute for its own requests. */
  replyBytesPerMinute: number;
  /** Wrong API tokens one address may present per minute before its API requests are refused (429). */
  apiFailuresPerMinute: number;
  /** §5.2: `open` lets guests join; `verified` needs an identity token for every join. */
  access: Access;
  /** §5.3: sockets one verified user may hold in one room. */
  maxSocketsPerUser: number;
  /** §5.4: how long a member who dropped without a clean close keeps their place; 0 disables. */
  presenceGraceMs: number;
  /** §8.1: how long a message is kept, in ms (HISTORY_RETENTION_DAYS); 0 keeps the ring only, with no age limit. */
  historyRetentionMs: number;
  /** §8.2, §8.3: most messages in one `history` or `search` answer. */
  historyPageLimit: number;
  /** §8, §9: `history`, `search` and `members` requests one socket may make per minute. */
  readsPerMinute: number;
  /** §8.4: HTTP searches one address may make per minute, all rooms together. */
  searchesPerMinute: number;
  /** §9.2: a version-3 socket gets at most one `presence` frame per this interval, within it of a change. */
  presenceBatchMs: number;
  /** §9.3: above this many members a room is large: version-3 sockets get counts, not names. */
  rosterLimit: number;
  /** §9.3: in a large room, at most one `presence` frame per this interval per version-3 socket. */
  occupancyIntervalMs: number;
  /** §11.1: the largest file one upload may carry, in bytes. */
  maxUploadBytes: number;
  /** §11.1: uploads one member may make per room per hour. */
  uploadsPerHour: number;
  /** §11.3: how long a signed file URL stays valid, in seconds. */
  fileUrlTtlS: number;
  /** §10.3: rooms one verified user's room list keeps. */
  maxUserRooms: number;
}

export type Access = "open" | "verified";

const DAY_MS = 86_400_000;

/** The defaults of the protocol (v3), used when a var is absent. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  historyLimit: 100,
  maxMessageChars: 2000,
  maxNameChars: 32,
  maxFrameBytes: 16384,
  maxRoomUsers: 5000,
  rateBurst: 10,
  ratePerSec: 5,
  maxSocketsPerAddress: 100,
  addressRateBurst: 40,
  addressRatePerSec: 20,
  joinsPerMinute: 20,
  joinTimeoutMs: 30_000,
  maxUnjoinedSockets: 1000,
  welcomeHistoryBytes: 65_536,
  replyBytesPerMinute: 1_048_576,
  apiFailuresPerMinute: 10,
  access: "open",
  maxSocketsPerUser: 10,
  presenceGraceMs: 5000,
  historyRetentionMs: 90 * DAY_MS,
  historyPageLimit: 100,
  readsPerMinute: 60,
  searchesPerMinute: 30,
  presenceBatchMs: 250,
  rosterLimit: 200,
  occupancyIntervalMs: 2000,
  maxUploadBytes: 10_485_760,
  uploadsPerHour: 30,
  fileUrlTtlS: 86_400,
  maxUserRooms: 200,
};

/** How many joins per minute an address may make in one room, as a multiple of JOINS_PER_MINUTE (§2.4). */
export const ADDRESS_JOINS_FACTOR = 5;
/** How many `history`/`search`/`members` one address may make per minute in one room, as a multiple of READS_PER_MINUTE (edge-chat's own, §8). */
export const ADDRESS_READS_FACTOR = 5;

/**
 * The vars as the runtime may really deliver them, whatever the generated
 * Env says: any object, each var read as unknown and checked. (No Env type
 * here: the browser client imports the defaults from this file too.)
 */
type RawVars = object;

function read(env: RawVars, name: string): unknown {
  return Reflect.get(env, name);
}

export function readLimits(env: RawVars): Limits {
  return {
    historyLimit: positive(env, "HISTORY_LIMIT", DEFAULT_LIMITS.historyLimit, true),
    maxMessageChars: positive(env, "MAX_MESSAGE_CHARS", DEFAULT_LIMITS.maxMessageChars, true),
    maxNameChars: positive(env, "MAX_NAME_CHARS", DEFAULT_LIMITS.maxNameChars, true),
    maxFrameBytes: positive(env, "MAX_FRAME_BYTES", DEFAULT_LIMITS.maxFrameBytes, true),
    maxRoomUsers: positive(env, "MAX_ROOM_USERS", DEFAULT_LIMITS.maxRoomUsers, true),
    rateBurst: positive(env, "RATE_BURST", DEFAULT_LIMITS.rateBurst, true),
    // A fractional rate is meaningful: 0.5 is one message every two seconds.
    ratePerSec: positive(env, "RATE_PER_SEC", DEFAULT_LIMITS.ratePerSec, false),
    maxSocketsPerAddress: positive(env, "MAX_SOCKETS_PER_ADDRESS", DEFAULT_LIMITS.maxSocketsPerAddress, true),
    addressRateBurst: positive(env, "ADDRESS_RATE_BURST", DEFAULT_LIMITS.addressRateBurst, true),
    addressRatePerSec: positive(env, "ADDRESS_RATE_PER_SEC", DEFAULT_LIMITS.addressRatePerSec, false),
    joinsPerMinute: positive(env, "JOINS_PER_MINUTE", DEFAULT_LIMITS.joinsPerMinute, true),
    joinTimeoutMs: positive(env, "JOIN_TIMEOUT_MS", DEFAULT_LIMITS.joinTimeoutMs, true),
    maxUnjoinedSockets: positive(env, "MAX_UNJOINED_SOCKETS", DEFAULT_LIMITS.maxUnjoinedSockets, true),
    welcomeHistoryBytes: positive(env, "WELCOME_HISTORY_BYTES", DEFAULT_LIMITS.welcomeHistoryBytes, true),
    replyBytesPerMinute: positive(env, "REPLY_BYTES_PER_MINUTE", DEFAULT_LIMITS.replyBytesPerMinute, true),
    apiFailuresPerMinute: positive(env, "API_FAILURES_PER_MINUTE", DEFAULT_LIMITS.apiFailuresPerMinute, true),
    access: readAccess(env),
    maxSocketsPerUser: positive(env, "MAX_SOCKETS_PER_USER", DEFAULT_LIMITS.maxSocketsPerUser, true),
    presenceGraceMs: nonNegative(env, "PRESENCE_GRACE_MS", DEFAULT_LIMITS.presenceGraceMs),
    historyRetentionMs: Math.round(retentionDays(env) * DAY_MS),
    historyPageLimit: positive(env, "HISTORY_PAGE_LIMIT", DEFAULT_LIMITS.historyPageLimit, true),
    readsPerMinute: positive(env, "READS_PER_MINUTE", DEFAULT_LIMITS.readsPerMinute, true),
    searchesPerMinute: positive(env, "SEARCHES_PER_MINUTE", DEFAULT_LIMITS.searchesPerMinute, true),
    presenceBatchMs: positive(env, "PRESENCE_BATCH_MS", DEFAULT_LIMITS.presenceBatchMs, true),
    rosterLimit: positive(env, "ROSTER_LIMIT", DEFAULT_LIMITS.rosterLimit, true),
    occupancyIntervalMs: positive(env, "OCCUPANCY_INTERVAL_MS", DEFAULT_LIMITS.occupancyIntervalMs, true),
    maxUploadBytes: positive(env, "MAX_UPLOAD_BYTES", DEFAULT_LIMITS.maxUploadBytes, true),
    uploadsPerHour: positive(env, "UPLOADS_PER_HOUR", DEFAULT_LIMITS.uploadsPerHour, true),
    fileUrlTtlS: positive(env, "FILE_URL_TTL_S", DEFAULT_LIMITS.fileUrlTtlS, true),
    maxUserRooms: positive(env, "MAX_USER_ROOMS", DEFAULT_LIMITS.maxUserRooms, true),
  };
}

/** §8.1: HISTORY_RETENTION_DAYS may be fractional (0.5 is twelve hours) and 0 (the ring only). */
function retentionDays(env: RawVars): number {
  const raw = read(env, "HISTORY_RETENTION_DAYS");
  if (raw === 0 || raw === "0") return 0;
  return positive(
    env,
    "HISTORY_RETENTION_DAYS",
    DEFAULT_LIMITS.historyRetentionMs / DAY_MS,
    false,
    "a number of days, 0 or more",
  );
}

function readAccess(env: RawVars): Access {
  const raw = read(env, "ACCESS");
  if (raw === undefined || raw === "") return DEFAULT_LIMITS.access;
  if (raw === "open" || raw === "verified") return raw;
  throw new ConfigError("ACCESS", raw, '"open" or "verified"');
}

/**
 * ALLOWED_ORIGINS: extra browser origins that may open sockets, comma
 * separated. Entries are compared as URL origins, so a trailing slash or a
 * path in the configuration does not silently lock everyone out.
 */
export function readAllowedOrigins(env: RawVars): ReadonlySet<string> {
  const raw = read(env, "ALLOWED_ORIGINS");
  if (raw === undefined || raw === "") return new Set();
  if (typeof raw !== "string") throw new ConfigError("ALLOWED_ORIGINS", raw, "a comma-separated string");
  const origins = new Set<string>();
  for (const entry of raw.split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new ConfigError("ALLOWED_ORIGINS", trimmed, "a list of origins such as https://example.com");
    }
    origins.add(url.origin);
  }
  return origins;
}

export class ConfigError extends Error {
  constructor(name: string, value: unknown, expected: string) {
    super(`Invalid ${name}: ${JSON.stringify(value)}; expected ${expected}.`);
    this.name = "ConfigError";
  }
}

/** A whole number that may be 0 (PRESENCE_GRACE_MS: 0 turns the grace off). */
function nonNegative(env: RawVars, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === 0 || raw === "0") return 0;
  return positive(env, name, fallback, true, "a non-negative integer");
}

function positive(env: RawVars, name: string, fallback: number, integer: boolean, expected?: string): number {
  const raw = read(env, name);
  if (raw === undefined || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : Number.NaN;
  const valid = Number.isFinite(value) && value > 0 && (!integer || Number.isSafeInteger(value));
  if (!valid) throw new ConfigError(name, raw, expected ?? (integer ? "a positive integer" : "a positive number"));
  return value;
}
