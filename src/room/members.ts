/**
 * Who is in the room: every open socket with its session, and the members,
 * in join order. One structure owns both views, so they cannot disagree:
 * a socket belongs to a member exactly when its session says so, and every
 * change goes through a method here that updates the index and writes what
 * must outlive an eviction in the same step: the socket's attachment, or,
 * for a member who is away (presence grace, §5.4) and has no socket to hold
 * an attachment, a row of the AwayStore.
 *
 * A member is a guest (one socket, one name) or a verified user (§5.3: up
 * to MAX_SOCKETS_PER_USER sockets, one entry, one budget). It is generic
 * over the socket type, so the chat core can be driven in Node with plain
 * objects as sockets. The room rebuilds it on every wake-up from the
 * attachments and the away rows.
 */
import { type NameKeys, nameKeys } from "../shared/names";
import type { Role } from "../shared/protocol";
import type { Bucket } from "../shared/rate-limit";
import type { Member, Session } from "./session";
import type { AwayRow, AwayStore } from "./stores";

export interface Holding<S> {
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
  | { kind: "left"; holding: Holding<S> }
  | { kind: "away"; holding: Holding<S>; until: number };

export class Members<S> {
  readonly #save: (socket: S, session: Session) => void;
  readonly #away: AwayStore;
  readonly #sessions = new Map<S, Session>();
  /** name key → member. A Map iterates in insertion order: join order, since members are only appended. */
  readonly #holdings = new Map<string, Holding<S>>();
  /**
   * A held name's other keys (§2.1: fold then skeleton, skeleton then fold)
   * → its identity key, so a look-alike that only those keys catch is taken.
   */
  readonly #aliases = new Map<string, string>();
  /** sub → name key, for verified members. */
  readonly #byUser = new Map<string, string>();
  /** Every socket that belongs to a member: the broadcast's list. */
  readonly #joined = new Set<S>();
  /** Sockets per client address, joined or not (protocol §2.4). */
  readonly #perAddress = new Map<string, number>();
  #nextOrder = 0;

  constructor(save: (socket: S, session: Session) => void, away: AwayStore) {
    this.#save = save;
    this.#away = away;
  }

  /**
   * Rebuilds everything after a wake-up from the sockets' sessions (in any
   * order) and the away rows. Several sockets name the same member only for
   * a verified user; any other duplicate is an out-of-date attachment and
   * loses the name to the socket that joined first.
   */
  restore(entries: Iterable<readonly [S, Session]>, away: readonly AwayRow[] = []): void {
    type Claim = { member: Member; socket?: S; session?: Session; row?: AwayRow };
    const claims: Claim[] = [];
    for (const [socket, session] of entries) {
      this.#add(socket, session);
      if (session.member) claims.push({ member: session.member, socket, session });
    }
    for (const row of away) claims.push({ member: row.member, row });
    claims.sort((a, b) => a.member.order - b.member.order);
    for (const { member, socket, session, row } of claims) {
      const held = this.#holdings.get(member.key);
      if (row) {
        // A socket of the member came back before the row was deleted: the socket wins.
        if (held) this.#away.delete(member.key);
        else this.#hold({ member, sockets: [], bucket: row.bucket, address: row.address, awayUntil: row.until });
      } else if (socket !== undefined && session) {
        if (!held) {
          this.#hold({ member, sockets: [socket], bucket: session.bucket, address: session.address });
        } else if (member.user !== undefined && held.member.user === member.user && held.awayUntil === undefined) {
          held.sockets.push(socket);
          // The socket that spent last holds the member's current bucket.
          if (session.bucket.at > held.bucket.at) held.bucket = session.bucket;
        } else {
          session.member = undefined;
          continue;
        }
        this.#joined.add(socket);
      }
      this.#nextOrder = Math.max(this.#nextOrder, member.order + 1);
    }
  }

  /** A socket the room has just accepted. */
  open(socket: S, session: Session): void {
    this.#add(socket, session);
    this.#save(socket, session);
  }

  /**
   * Forgets a closed socket. If it was its member's last, the member leaves,
   * or, given `awayUntil`, stays away until then (§5.4).
   */
  close(socket: S, awayUntil?: number): Departure<S> {
    const session = this.#sessions.get(socket);
    if (!session) return { kind: "none" };
    const departure = this.#detach(socket, session, awayUntil);
    this.#sessions.delete(socket);
    const left = (this.#perAddress.get(session.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(session.address, left);
    else this.#perAddress.delete(session.address);
    return departure;
  }

  /** The socket gives its name back (leave) and stays open: the member leaves with its last socket. */
  leave(socket: S): Departure<S> {
    const session = this.#sessions.get(socket);
    if (!session?.member) return { kind: "none" };
    const departure = this.#detach(socket, session, undefined);
    this.#save(socket, session);
    return departure;
  }

  session(socket: S): Session | undefined {
    return this.#sessions.get(socket);
  }

  /** Writes a session changed in place to its attachment. */
  save(socket: S): void {
    const session = this.#sessions.get(socket);
    if (session) this.#save(socket, session);
  }

  /** A new member with its first socket; the caller has checked that the name is free. */
  join(socket: S, member: Omit<Member, "order">, bucket: Bucket): Holding<S> {
    const session = this.#sessions.get(socket);
    if (!session) throw new Error("members: join on a socket that is not open");
    if (this.#holdings.has(member.key)) throw new Error("members: the name is held");
    const holding = this.#hold({
      member: { ...member, order: this.#nextOrder++ },
      sockets: [],
      bucket,
      address: session.address,
    });
    this.#attach(holding, socket, session);
    return holding;
  }

  /**
   * Another socket for an existing member: a verified user's next tab, or a
   * member back from away. Its bucket is the one given (the caller merges
   * the socket's own with the member's).
   */
  attach(holding: Holding<S>, socket: S, bucket: Bucket): void {
    const session = this.#sessions.get(socket);
    if (!session) throw new Error("members: attach of a socket that is not open");
    if (holding.awayUntil !== undefined) {
      holding.awayUntil = undefined;
      this.#away.delete(holding.member.key);
    }
    holding.bucket = bucket;
    this.#attach(holding, socket, session);
  }

  /**
   * §5.3 (version 3): a member's role is that of the token presented last
   * for them, on any socket. Every socket's attachment gets the new role at
   * once, so a demotion holds on all of them, and after a wake-up too.
   */
  setRole(holding: Holding<S>, role: Role): void {
    if ((holding.member.role ?? "member") === role) return;
    holding.member.role = role;
    for (const socket of holding.sockets) {
      const session = this.#sessions.get(socket);
      if (!session) continue;
      session.member = holding.member;
      this.#save(socket, session);
    }
  }

  /**
   * A guest's name moves to another socket (a reclaim with the welcome's
   * token) without changing its place in the order. Returns the socket it
   * left, now without a name, if the guest had one.
   */
  handOver(holding: Holding<S>, to: S): S | undefined {
    const old = holding.sockets[0];
    const oldSession = old === undefined ? undefined : this.#sessions.get(old);
    if (old !== undefined && oldSession) {
      oldSession.member = undefined;
      this.#joined.delete(old);
      this.#save(old, oldSession);
    }
    holding.sockets = [];
    this.attach(holding, to, holding.bucket);
    return old;
  }

  /** Removes a member outright (a guest whose name a verified user takes, an away member whose grace ended); returns its sockets, now without a name. */
  remove(holding: Holding<S>): S[] {
    const sockets = holding.sockets;
    for (const socket of sockets) {
      const session = this.#sessions.get(socket);
      this.#joined.delete(socket);
      if (session) {
        session.member = undefined;
        this.#save(socket, session);
      }
    }
    holding.sockets = [];
    this.#unhold(holding);
    return sockets;
  }

  /** A member spent from its bucket through this socket; `write`: the bucket goes to that socket's attachment too. */
  spent(socket: S, holding: Holding<S>, bucket: Bucket, write: boolean): void {
    holding.bucket = bucket;
    const session = this.#sessions.get(socket);
    if (!session) return;
    session.bucket = bucket;
    if (write) this.#save(socket, session);
  }

  /**
   * The member holding a name: by its identity key, or by all its keys
   * (`nameKeys`), which also finds a member whose name merely conflicts.
   */
  holder(key: string | NameKeys): Holding<S> | undefined {
    if (typeof key === "string") return this.#holdings.get(key);
    const primary = this.#holdings.get(key[0]);
    if (primary) return primary;
    const alias = this.#aliases.get(`1:${key[1]}`) ?? this.#aliases.get(`2:${key[2]}`);
    return alias === undefined ? undefined : this.#holdings.get(alias);
  }

  /** The member a verified user is, under whatever name. */
  ofUser(user: string): Holding<S> | undefined {
    const key = this.#byUser.get(user);
    return key === undefined ? undefined : this.#holdings.get(key);
  }

  /** The member a socket belongs to. */
  of(socket: S): Holding<S> | undefined {
    const key = this.#sessions.get(socket)?.member?.key;
    return key === undefined ? undefined : this.#holdings.get(key);
  }

  /** Members, away ones included. */
  get size(): number {
    return this.#holdings.size;
  }

  /** Open sockets, joined or not. */
  get sockets(): number {
    return this.#sessions.size;
  }

  /** Open sockets that belong to no member. */
  get unjoined(): number {
    return this.#sessions.size - this.#joined.size;
  }

  /** The open socket that has held no name for longest (§2.4: the first to go when too many wait). */
  longestUnjoined(): S | undefined {
    let oldest: [S, number] | undefined;
    for (const [socket, session] of this.#sessions) {
      if (!session.member && (oldest === undefined || session.idleSince < oldest[1]))
        oldest = [socket, session.idleSince];
    }
    return oldest?.[0];
  }

  socketsOf(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** Members in join order. */
  all(): IterableIterator<Holding<S>> {
    return this.#holdings.values();
  }

  names(): string[] {
    return Array.from(this.#holdings.values(), (h) => h.member.name);
  }

  /** Every socket that belongs to a member. */
  joinedSockets(): IterableIterator<S> {
    return this.#joined.values();
  }

  /** Every open socket with its session. */
  entries(): IterableIterator<[S, Session]> {
    return this.#sessions.entries();
  }

  #add(socket: S, session: Session): void {
    this.#sessions.set(socket, session);
    this.#perAddress.set(session.address, (this.#perAddress.get(session.address) ?? 0) + 1);
  }

  #hold(holding: Holding<S>): Holding<S> {
    const { key, name } = holding.member;
    this.#holdings.set(key, holding);
    const [, folded, skeletal] = nameKeys(name);
    this.#aliases.set(`1:${folded}`, key);
    this.#aliases.set(`2:${skeletal}`, key);
    if (holding.member.user !== undefined) this.#byUser.set(holding.member.user, holding.member.key);
    return holding;
  }

  #unhold(holding: Holding<S>): void {
    const { key, name } = holding.member;
    this.#holdings.delete(key);
    const [, folded, skeletal] = nameKeys(name);
    for (const alias of [`1:${folded}`, `2:${skeletal}`]) {
      if (this.#aliases.get(alias) === key) this.#aliases.delete(alias);
    }
    if (holding.member.user !== undefined) this.#byUser.delete(holding.member.user);
    if (holding.awayUntil !== undefined) this.#away.delete(holding.member.key);
  }

  #attach(holding: Holding<S>, socket: S, session: Session): void {
    holding.sockets.push(socket);
    holding.address = session.address;
    session.member = holding.member;
    session.bucket = holding.bucket;
    this.#joined.add(socket);
    this.#save(socket, session);
  }

  /** Takes the socket off its member; the member leaves or goes away when it was the last. */
  #detach(socket: S, session: Session, awayUntil: number | undefined): Departure<S> {
    const member = session.member;
    if (!member) return { kind: "none" };
    session.member = undefined;
    this.#joined.delete(socket);
    const holding = this.#holdings.get(member.key);
    // A name handed over to another socket is no longer this one's to give up.
    if (!holding?.sockets.includes(socket)) return { kind: "none" };
    holding.sockets = holding.sockets.filter((s) => s !== socket);
    if (holding.sockets.length > 0) return { kind: "none" };
    if (awayUntil !== undefined) {
      holding.awayUntil = awayUntil;
      this.#away.put({ member: holding.member, bucket: holding.bucket, address: holding.address, until: awayUntil });
      return { kind: "away", holding, until: awayUntil };
    }
    this.#unhold(holding);
    return { kind: "left", holding };
  }
}
