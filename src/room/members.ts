/**
 * Who is in the room: every open socket with its session, and the names
 * held, in join order. One structure owns both views, so they cannot
 * disagree: a name is held exactly when some socket's session says so, and
 * every change goes through a method here that updates the index and writes
 * the socket's attachment (`save`) in the same step.
 *
 * It is memory only and generic over the socket type, so the chat core can
 * be driven in Node with plain objects as sockets. The room rebuilds it from
 * attachments whenever the object wakes.
 */
import type { Member, Session } from "./session";

export class Members<S> {
  readonly #save: (socket: S, session: Session) => void;
  readonly #sessions = new Map<S, Session>();
  /**
   * name key → the socket holding it. A Map iterates in insertion order,
   * which is join order as long as names are only appended (join) or moved
   * in place (handOver).
   */
  readonly #holders = new Map<string, S>();
  /** Sockets per client address, joined or not (protocol §2.4). */
  readonly #perAddress = new Map<string, number>();
  #nextOrder = 0;

  constructor(save: (socket: S, session: Session) => void) {
    this.#save = save;
  }

  /** Rebuilds everything after a wake-up from the sockets' sessions, in any order. */
  restore(entries: Iterable<readonly [S, Session]>): void {
    const joined: Array<[S, Member]> = [];
    for (const [socket, session] of entries) {
      this.#add(socket, session);
      if (session.member) joined.push([socket, session.member]);
    }
    for (const [socket, member] of joined.sort((a, b) => a[1].order - b[1].order)) {
      const session = this.#sessions.get(socket);
      // A name another socket already holds stays with that socket; this
      // one's attachment is out of date.
      if (this.#holders.has(member.key)) {
        if (session) session.member = undefined;
        continue;
      }
      this.#holders.set(member.key, socket);
      this.#nextOrder = Math.max(this.#nextOrder, member.order + 1);
    }
  }

  /** A socket the room has just accepted. */
  open(socket: S, session: Session): void {
    this.#add(socket, session);
    this.#save(socket, session);
  }

  /** Forgets a closed socket; returns its member if it still held a name. */
  close(socket: S): Member | undefined {
    const session = this.#sessions.get(socket);
    if (!session) return undefined;
    const member = this.#release(socket, session);
    this.#sessions.delete(socket);
    const left = (this.#perAddress.get(session.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(session.address, left);
    else this.#perAddress.delete(session.address);
    return member;
  }

  session(socket: S): Session | undefined {
    return this.#sessions.get(socket);
  }

  /** Writes a session changed in place (a bucket spent) to its attachment. */
  save(socket: S): void {
    const session = this.#sessions.get(socket);
    if (session) this.#save(socket, session);
  }

  /** Gives `socket` a name; the caller has checked that the name is free. */
  join(socket: S, member: Omit<Member, "order">): Member {
    const session = this.#sessions.get(socket);
    if (!session) throw new Error("members: join on a socket that is not open");
    if (this.#holders.has(member.key)) throw new Error("members: the name is held");
    const held = { ...member, order: this.#nextOrder++ };
    session.member = held;
    this.#holders.set(held.key, socket);
    this.#save(socket, session);
    return held;
  }

  /** The socket gives its name back (leave) and stays open; returns the member it was. */
  leave(socket: S): Member | undefined {
    const session = this.#sessions.get(socket);
    if (!session) return undefined;
    const member = this.#release(socket, session);
    if (member) this.#save(socket, session);
    return member;
  }

  /**
   * Moves a held name to another open socket without changing its place in
   * the order; the old socket is left without a name. Returns the old socket.
   */
  handOver(key: string, to: S): S {
    const from = this.#holders.get(key);
    const fromSession = from === undefined ? undefined : this.#sessions.get(from);
    const toSession = this.#sessions.get(to);
    const member = fromSession?.member;
    if (from === undefined || !fromSession || !toSession || !member) throw new Error("members: nothing to hand over");
    toSession.member = member;
    fromSession.member = undefined;
    this.#holders.set(key, to);
    this.#save(to, toSession);
    this.#save(from, fromSession);
    return from;
  }

  /** The socket holding a name key, and its member. */
  holder(key: string): { socket: S; member: Member } | undefined {
    const socket = this.#holders.get(key);
    const member = socket === undefined ? undefined : this.#sessions.get(socket)?.member;
    return socket === undefined || !member ? undefined : { socket, member };
  }

  /** Joined names. */
  get size(): number {
    return this.#holders.size;
  }

  /** Open sockets, joined or not. */
  get sockets(): number {
    return this.#sessions.size;
  }

  socketsOf(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  names(): string[] {
    return Array.from(this.#holders.keys(), (key) => this.holder(key)?.member.name ?? key);
  }

  /** Sockets that hold a name, in join order. */
  joinedSockets(): IterableIterator<S> {
    return this.#holders.values();
  }

  /** Every open socket with its session. */
  entries(): IterableIterator<[S, Session]> {
    return this.#sessions.entries();
  }

  #add(socket: S, session: Session): void {
    this.#sessions.set(socket, session);
    this.#perAddress.set(session.address, (this.#perAddress.get(session.address) ?? 0) + 1);
  }

  /** Frees the session's name if this socket still holds it (a handed-over name is not its to free). */
  #release(socket: S, session: Session): Member | undefined {
    const member = session.member;
    if (!member) return undefined;
    session.member = undefined;
    if (this.#holders.get(member.key) !== socket) return undefined;
    this.#holders.delete(member.key);
    return member;
  }
}
