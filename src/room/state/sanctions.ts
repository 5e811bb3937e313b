/**
 * The room's bans, mutes and slow mode (protocol §6), kept in durable
 * storage so they survive hibernation, eviction and restarts, and read back
 * on the first frame that needs them after a wake-up.
 *
 * Who a sanction holds, and why:
 * - A verified user is sanctioned by `sub`: a new token, a new name or
 *   another address does not help.
 * - A guest is sanctioned by name *and* by the address the Worker saw: a
 *   new name from the same address does not help either, and a reconnect
 *   keeps both. (A verified user is never held by an address: one person's
 *   ban must not lock out a signed-in colleague behind the same NAT.)
 *
 * An expired sanction no longer holds from the moment it ends (every check
 * compares with the clock); the room's alarm then deletes it and tells the
 * room, without anyone's help.
 */
import { type NameKeys, nameKeys, sameName } from "../../shared/names";
import type { Role } from "../../shared/protocol";
import { memberId } from "./socket-state";

export type SanctionKind = "ban" | "mute";

export interface Sanction {
  kind: SanctionKind;
  /** The target's name as shown when sanctioned, and its key (src/shared/names.ts). */
  name: string;
  key: string;
  /** A verified target's `sub`: the sanction holds the user, under any name. */
  user?: string;
  /** A guest target's address: the sanction holds every guest name from it. */
  address?: string;
  /** The target's role then: who may lift it follows who may impose it (§6.1). */
  role: Role;
  /** Ms since the epoch; null: until lifted. */
  until: number | null;
  by: string;
  reason?: string;
}

/** What a sanction is checked against: a verified user by `sub` alone, a guest by name key and address. */
export type Subject =
  | { user: string }
  /** `keys`: a joining guest's name's keys, so a look-alike of a banned name is banned too (§2.1). */
  | { user?: undefined; key: string; keys?: NameKeys; address: string };

export interface SanctionStore {
  load(): { sanctions: Sanction[]; slowmode: number };
  put(sanction: Sanction): void;
  delete(kind: SanctionKind, id: string): void;
  setSlowmode(seconds: number): void;
}

/**
 * One sanction of a kind per target, under the target's member id
 * (socket-state.ts): a user's `sub`, or a guest's name.
 */
export const sanctionId: (s: Pick<Sanction, "key" | "user">) => string = memberId;

export class Sanctions {
  readonly #store: SanctionStore;
  #book: { byId: Map<string, Sanction>; slowmode: number } | undefined;
  /** Each guest sanction's name keys, computed once: a join compares against all of them. */
  readonly #keys = new WeakMap<Sanction, NameKeys>();

  constructor(store: SanctionStore) {
    this.#store = store;
  }

  get slowmode(): number {
    return this.#load().slowmode;
  }

  setSlowmode(seconds: number): void {
    this.#load().slowmode = seconds;
    this.#store.setSlowmode(seconds);
  }

  impose(sanction: Sanction): void {
    this.#load().byId.set(`${sanction.kind}:${sanctionId(sanction)}`, sanction);
    this.#store.put(sanction);
  }

  /** The ban or mute in force on a name (a guest's, or the name a user had), for unban/unmute. */
  onName(kind: SanctionKind, key: string, now: number): Sanction | undefined {
    for (const s of this.#load().byId.values()) {
      if (s.kind === kind && s.key === key && isActive(s, now)) return s;
    }
    return undefined;
  }

  lift(sanction: Sanction): void {
    const id = sanctionId(sanction);
    this.#load().byId.delete(`${sanction.kind}:${id}`);
    this.#store.delete(sanction.kind, id);
  }

  /** The ban or mute in force on this person, if any. */
  inForce(kind: SanctionKind, who: Subject, now: number): Sanction | undefined {
    for (const s of this.#load().byId.values()) {
      if (s.kind !== kind || !isActive(s, now)) continue;
      const match =
        who.user !== undefined
          ? s.user === who.user
          : s.user === undefined && (s.key === who.key || s.address === who.address || this.#sameName(s, who.keys));
      if (match) return s;
    }
    return undefined;
  }

  /** Everything in force, for GET /api/rooms/:room/moderation. */
  list(kind: SanctionKind, now: number): Sanction[] {
    return [...this.#load().byId.values()].filter((s) => s.kind === kind && isActive(s, now));
  }

  /** Removes and returns every sanction that has run out by `now`. */
  expire(now: number): Sanction[] {
    const gone = [...this.#load().byId.values()].filter((s) => !isActive(s, now));
    for (const s of gone) this.lift(s);
    return gone;
  }

  /** When the next sanction runs out, for the room's alarm. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const s of this.#load().byId.values()) {
      if (s.until !== null && (next === undefined || s.until < next)) next = s.until;
    }
    return next;
  }

  #sameName(s: Sanction, keys: NameKeys | undefined): boolean {
    if (keys === undefined) return false;
    let own = this.#keys.get(s);
    if (!own) {
      own = nameKeys(s.name);
      this.#keys.set(s, own);
    }
    return sameName(own, keys);
  }

  #load(): { byId: Map<string, Sanction>; slowmode: number } {
    if (!this.#book) {
      const { sanctions, slowmode } = this.#store.load();
      this.#book = { byId: new Map(sanctions.map((s) => [`${s.kind}:${sanctionId(s)}`, s])), slowmode };
    }
    return this.#book;
  }
}

function isActive(s: Sanction, now: number): boolean {
  return s.until === null || s.until > now;
}
