/**
 * The joined users of one room, in join order, keyed by the case-folded name
 * (protocol.nameKey). It is memory only: the room rebuilds it from socket
 * attachments whenever the object wakes, so it holds nothing hibernation
 * could lose. Generic over the socket type so it can be tested in Node.
 */
export interface Member<S> {
  name: string;
  key: string;
  token: string;
  /** Position in join order; survives hibernation in the attachment. */
  order: number;
  socket: S;
}

export class Roster<S> {
  // A Map iterates in insertion order, which is join order as long as
  // members are only ever appended (add) or updated in place (handOver).
  #byKey = new Map<string, Member<S>>();
  #nextOrder = 0;

  /** Rebuilds the roster after a wake-up from members in any order. */
  static restore<S>(members: Iterable<Member<S>>): Roster<S> {
    const roster = new Roster<S>();
    for (const m of [...members].sort((a, b) => a.order - b.order)) {
      roster.#byKey.set(m.key, m);
      roster.#nextOrder = Math.max(roster.#nextOrder, m.order + 1);
    }
    return roster;
  }

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): Member<S> | undefined {
    return this.#byKey.get(key);
  }

  /** The next join-order position; callers store it before calling add. */
  nextOrder(): number {
    return this.#nextOrder++;
  }

  add(member: Member<S>): void {
    if (this.#byKey.has(member.key)) throw new Error(`roster: ${member.key} is already held`);
    this.#byKey.set(member.key, member);
  }

  /** Moves a name to a new socket without changing its place in the order. */
  handOver(key: string, socket: S): Member<S> {
    const member = this.#byKey.get(key);
    if (!member) throw new Error(`roster: ${key} is not held`);
    member.socket = socket;
    return member;
  }

  /**
   * Removes the member holding `key` only if it is still on `socket`: a
   * socket whose name was handed over must not take the name with it when
   * it finally closes.
   */
  remove(key: string, socket: S): Member<S> | undefined {
    const member = this.#byKey.get(key);
    if (member?.socket !== socket) return undefined;
    this.#byKey.delete(key);
    return member;
  }

  names(): string[] {
    return Array.from(this.#byKey.values(), (m) => m.name);
  }

  members(): IterableIterator<Member<S>> {
    return this.#byKey.values();
  }
}
