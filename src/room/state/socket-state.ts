/**
 * Per-socket state that must outlive hibernation. Fields on the room object
 * are lost when it is evicted; a socket's attachment (at most 16 KiB,
 * structured-cloned) is kept by the runtime and handed back on wake-up, so
 * everything a socket needs to be recognised again lives here.
 */

import * as v from "valibot";
import { ROLES, type Role } from "../../shared/protocol";
import { type Bucket, BucketSchema, fullBucket } from "../../shared/rate-limit";

/**
 * A member of the room: a held name as shown, its key (src/shared/names.ts),
 * the reclaim token, its place in join order, and for a verified user
 * (§5.2) their `sub` and role. A guest is one socket; a verified user may be
 * several (§5.3), each with a copy of this in its attachment.
 */
export interface Member {
  name: string;
  key: string;
  token: string;
  order: number;
  user?: string;
  /** Absent in attachments written before protocol v2: read as `member`. */
  role?: Role;
}

/**
 * What a member's budgets, typing window and message ids are kept under: the
 * `sub` of a verified user (whatever name their next token carries), the
 * name of a guest. The prefixes keep a guest called "user:x" apart from x.
 */
export function memberId(member: Pick<Member, "key" | "user">): string {
  return member.user === undefined ? `name:${member.key}` : `user:${member.user}`;
}

export interface SocketState {
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
  /** The protocol version its join asked for (§9.1); absent: version 2's frames. */
  protocol?: number;
  /** `history`, `search` and `members` requests (READS_PER_MINUTE, §8); absent until the first. */
  reads?: Bucket;
  /** A version-3 member socket: what its welcome told it about the roster (§9.2, state/presence.ts). */
  told?: Told;
}

/**
 * What a version-3 socket knew when it was welcomed: the presence batch
 * then current, the last roster change its welcome included, the member
 * count and whether the room was large. Once a later batch has gone out,
 * that batch is what it knows instead, so this is written once, by the join.
 */
export interface Told {
  tick: number;
  through: number;
  count: number;
  large: boolean;
}

/** §9.1: a socket that joined with `protocol: 3` or higher gets version 3's frames. */
export const PROTOCOL_V3 = 3;

export interface SessionLimits {
  rateBurst: number;
  joinsPerMinute: number;
}

export function newSocketState(limits: SessionLimits, address: string, now: number): SocketState {
  return {
    bucket: fullBucket(limits.rateBurst, now),
    joins: fullBucket(limits.joinsPerMinute, now),
    address,
    idleSince: now,
  };
}

/** A member as an attachment or an `away` row holds it. */
export const MemberSchema = v.looseObject({
  name: v.string(),
  key: v.string(),
  token: v.string(),
  order: v.number(),
  user: v.optional(v.string()),
  role: v.optional(v.picklist(ROLES)),
});

const SocketStateSchema = v.looseObject({
  member: v.optional(MemberSchema),
  bucket: BucketSchema,
  joins: BucketSchema,
  address: v.string(),
  idleSince: v.number(),
  protocol: v.optional(v.number()),
  reads: v.optional(BucketSchema),
  told: v.optional(v.looseObject({ tick: v.number(), through: v.number(), count: v.number(), large: v.boolean() })),
});

/**
 * The one type guard an attachment is read through. An attachment this code
 * does not recognise (written by an older deployment, or none at all) is
 * not a socket's state: the shell then starts the socket afresh, unjoined,
 * rather than crashing on every frame.
 */
export function isSocketState(value: unknown): value is SocketState {
  return v.is(SocketStateSchema, value);
}
