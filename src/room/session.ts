/**
 * Per-socket state that must outlive hibernation. Fields on the room object
 * are lost when it is evicted; a socket's attachment (at most 16 KiB,
 * structured-cloned) is kept by the runtime and handed back on wake-up, so
 * everything a socket needs to be recognised again lives here.
 */
import { type Bucket, fullBucket, isBucket } from "../shared/rate-limit";

/** A held name: as shown, its key (src/shared/names.ts), the reclaim token, its place in join order. */
export interface Member {
  name: string;
  key: string;
  token: string;
  order: number;
}

export interface Session {
  /** Present while the socket holds a name in the room. */
  member?: Member;
  /** The chat/dm rate bucket; kept across leave/join so leaving does not refill it. */
  bucket: Bucket;
  /** Successful joins of this socket (JOINS_PER_MINUTE). */
  joins: Bucket;
  /** The client's address as the Worker saw it (§2.4), or "unknown". */
  address: string;
  /** Since when the socket has held no name (opened, or left): JOIN_TIMEOUT_MS counts from here. */
  idleSince: number;
}

export interface SessionLimits {
  rateBurst: number;
  joinsPerMinute: number;
}

export function newSession(limits: SessionLimits, address: string, now: number): Session {
  return {
    bucket: fullBucket(limits.rateBurst, now),
    joins: fullBucket(limits.joinsPerMinute, now),
    address,
    idleSince: now,
  };
}

/**
 * The one type guard an attachment is read through. An attachment this code
 * does not recognise (written by an older deployment, or none at all) is
 * not a session: the shell then starts the socket afresh, unjoined, rather
 * than crashing on every frame.
 */
export function isSession(value: unknown): value is Session {
  if (!isRecord(value) || !isBucket(value.bucket) || !isBucket(value.joins)) return false;
  if (typeof value.address !== "string" || typeof value.idleSince !== "number") return false;
  const m = value.member;
  return (
    m === undefined ||
    (isRecord(m) &&
      typeof m.name === "string" &&
      typeof m.key === "string" &&
      typeof m.token === "string" &&
      typeof m.order === "number")
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
