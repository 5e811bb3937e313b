/**
 * The room's members by name (state/members.ts keeps them in step with the
 * sockets): each name's identity key and its two look-alike keys (§2.1),
 * and each verified user's `sub`, so every lookup by a name or a user is
 * one Map read. A Map iterates in insertion order: join order, since
 * members are only appended.
 */
import { foldName } from "../../shared/mentions";
import { type NameKeys, nameKeys } from "../../shared/names";
import type { Bucket } from "../../shared/rate-limit";
import type { Member } from "./socket-state";

export interface Membership<S> {
  member: Member;
  /** The member's sockets, oldest first; empty while the member is away. */
  sockets: S[];
  /** The chat/dm bucket all the member's sockets spend from (§5.3: more tabs, no more budget). */
  bucket: Bucket;
  /** The address of the member's latest socket: what a guest's ban or mute also holds (§6.2). */
  address: string;
  /** While away (§5.4): when the grace ends and the others hear `left`. */
  awayUntil?: number;
}

/** What a closed socket meant for its member. */
export type Departure<S> =
  | { kind: "none" }
  | { kind: "left"; membership: Membership<S> }
  | { kind: "away"; membership: Membership<S>; until: number };

export class Roster<S> {
  readonly #byKey = new Map<string, Membership<S>>();
  /** A held name's other keys (fold then skeleton, skeleton then fold) → its identity key. */
  readonly #aliases = new Map<string, string>();
  /** sub → name key, for verified members. */
  readonly #byUser = new Map<string, string>();
  /** The welcome token → name key: an upload presents it (§11.1). */
  readonly #byToken = new Map<string, string>();
  /** The name without regard to case → name key: what a mention looks up (§10.2). Names that equal so conflict, so this is one to one. */
  readonly #byFold = new Map<string, string>();

  add(membership: Membership<S>): Membership<S> {
    const { key, name, user } = membership.member;
    this.#byKey.set(key, membership);
    for (const alias of aliases(name)) this.#aliases.set(alias, key);
    if (user !== undefined) this.#byUser.set(user, key);
    this.#byToken.set(membership.member.token, key);
    this.#byFold.set(foldName(name), key);
    return membership;
  }

  delete(membership: Membership<S>): void {
    const { key, name, user } = membership.member;
    this.#byKey.delete(key);
    for (const alias of aliases(name)) if (this.#aliases.get(alias) === key) this.#aliases.delete(alias);
    if (user !== undefined) this.#byUser.delete(user);
    if (this.#byToken.get(membership.member.token) === key) this.#byToken.delete(membership.member.token);
    if (this.#byFold.get(foldName(name)) === key) this.#byFold.delete(foldName(name));
  }

  /** The member whose name, without regard to case, is `folded` (mentions.ts foldName). */
  ofFold(folded: string): Membership<S> | undefined {
    const key = this.#byFold.get(folded);
    return key === undefined ? undefined : this.#byKey.get(key);
  }

  /** By identity key, or by all of a name's keys (`nameKeys`): then also a member whose name merely conflicts. */
  get(key: string | NameKeys): Membership<S> | undefined {
    if (typeof key === "string") return this.#byKey.get(key);
    const alias = this.#aliases.get(`1:${key[1]}`) ?? this.#aliases.get(`2:${key[2]}`);
    return this.#byKey.get(key[0]) ?? (alias === undefined ? undefined : this.#byKey.get(alias));
  }

  ofUser(user: string): Membership<S> | undefined {
    const key = this.#byUser.get(user);
    return key === undefined ? undefined : this.#byKey.get(key);
  }

  ofToken(token: string): Membership<S> | undefined {
    const key = this.#byToken.get(token);
    return key === undefined ? undefined : this.#byKey.get(key);
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  get size(): number {
    return this.#byKey.size;
  }

  values(): IterableIterator<Membership<S>> {
    return this.#byKey.values();
  }
}

function aliases(name: string): [string, string] {
  const [, folded, skeletal] = nameKeys(name);
  return [`1:${folded}`, `2:${skeletal}`];
}
