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
}

/** The defaults of protocol v1, used when a var is absent. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  historyLimit: 100,
  maxMessageChars: 2000,
  maxNameChars: 32,
  maxFrameBytes: 16384,
  maxRoomUsers: 5000,
  rateBurst: 10,
  ratePerSec: 5,
};

/** The vars as the runtime may really deliver them, whatever the generated Env says. */
type RawVars = { readonly [K in keyof Env]?: unknown };

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
  };
}

/**
 * ALLOWED_ORIGINS: extra browser origins that may open sockets, comma
 * separated. Entries are compared as URL origins, so a trailing slash or a
 * path in the configuration does not silently lock everyone out.
 */
export function readAllowedOrigins(env: RawVars): ReadonlySet<string> {
  const raw = env.ALLOWED_ORIGINS;
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

function positive(env: RawVars, name: keyof Env, fallback: number, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : Number.NaN;
  const valid = Number.isFinite(value) && value > 0 && (!integer || Number.isSafeInteger(value));
  if (!valid) throw new ConfigError(name, raw, integer ? "a positive integer" : "a positive number");
  return value;
}
