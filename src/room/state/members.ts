/**
 * Who is in the room: every open socket with its state, and the members,
 * in join order. One structure owns both views, so they cannot disagree:
 * a socket belongs to a member exactly when its state says so, and every
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
import type { NameKeys } from "../../shared/names";
import type { Role } from "../../shared/protocol";
import type { Bucket } from "../../shared/rate-limit";
import type { AwayRow, AwayStore } from "../storage/stores";
import { type Departure, type Membership, Roster } from "./roster";
import { type Member, PROTOCOL_V3, type SocketState } from "./socket-state";

export type { Departure, Membership };

export class Members<S> {
  readonly #save: (socket: S, state: SocketState) => void;
  readonly #away: AwayStore;
  readonly #states = new Map<S, SocketState>();
  /** The members by name and by user, in join order. */
  readonly #roster = new Roster<S>();
  /**
   * Every socket that belongs to a member, the broadcast's list, in two
   * parts by the frames they asked for (§9.1), so a frame only one kind
   * gets (version 2's `joined`) costs nothing per socket of the other.
   */
  readonly #v2 = new Set<S>();
  readonly #v3 = new Set<S>();
  /** Sockets per client address, joined or not (protocol §2.4). */
  readonly #perAddress = new Map<string, number>();
  #nextOrder = 0;

  constructor(save: (socket: S, state: SocketState) => void, away: AwayStore) {
    this.#save = save;
    this.#away = away;
  }

  /**
   * Rebuilds everything after a wake-up from the sockets' states (in any
   * order) and the away rows. Several sockets name the same member only for
   * a verified user; any other duplicate is an out-of-date attachment and
   * loses the name to the socket that joined first.
   */
  restore(entries: Iterable<readonly [S, SocketState]>, away: readonly AwayRow[] = []): void {
    type Claim = { member: Member; socket?: S; state?: SocketState; row?: AwayRow };
    const claims: Claim[] = [];
    for (const [socket, state] of entries) {
      this.#add(socket, state);
      if (state.member) claims.push({ member: state.member, socket, state });
    }
    for (const row of away) claims.push({ member: row.member, row });
    claims.sort((a, b) => a.member.order - b.member.order);
    for (const { member, socket, state, row } of claims) {
      const held = this.#roster.get(member.key);
      if (row) {
        // A socket of the member came back before the row was deleted: the socket wins.
        if (held) this.#away.delete(member.key);
        else this.#roster.add({ member, sockets: [], bucket: row.bucket, address: row.address, awayUntil: row.until });
      } else if (socket !== undefined && state) {
        if (!held) {
          this.#roster.add({ member, sockets: [socket], bucket: state.bucket, address: state.address });
        } else if (member.user !== undefined && held.member.user === member.user && held.awayUntil === undefined) {
          held.sockets.push(socket);
          // The socket that spent last holds the member's current bucket.
          if (state.bucket.at > held.bucket.at) held.bucket = state.bucket;
        } else {
          state.member = undefined;
          continue;
        }
        this.#enlist(socket, state);
      }
      this.#nextOrder = Math.max(this.#nextOrder, member.order + 1);
    }
  }

  /** A socket the room has just accepted. */
  open(socket: S, state: SocketState): void {
    this.#add(socket, state);
    this.#save(socket, state);
  }

  /**
   * Forgets a closed socket. If it was its member's last, the member leaves,
   * or, given `awayUntil`, stays away until then (§5.4).
   */
  close(socket: S, awayUntil?: number): Departure<S> {
    const state = this.#states.get(socket);
    if (!state) return { kind: "none" };
    const departure = this.#detach(socket, state, awayUntil);
    this.#states.delete(socket);
    const left = (this.#perAddress.get(state.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(state.address, left);
    else this.#perAddress.delete(state.address);
    return departure;
  }

  /** The socket gives its name back (leave) and stays open: the member leaves with its last socket. */
  leave(socket: S): Departure<S> {
    const state = this.#states.get(socket);
    if (!state?.member) return { kind: "none" };
    const departure = this.#detach(socket, state, undefined);
    this.#save(socket, state);
    return departure;
  }

  stateOf(socket: S): SocketState | undefined {
    return this.#states.get(socket);
  }

  /** Writes a state changed in place to its attachment. */
  save(socket: S): void {
    const state = this.#states.get(socket);
    if (state) this.#save(socket, state);
  }

  /** A new member with its first socket; the caller has checked that the name is free. */
  join(socket: S, member: Omit<Member, "order">, bucket: Bucket): Membership<S> {
    const state = this.#states.get(socket);
    if (!state) throw new Error("members: join on a socket that is not open");
    if (this.#roster.has(member.key)) throw new Error("members: the name is held");
    const membership = this.#roster.add({
      member: { ...member, order: this.#nextOrder++ },
      sockets: [],
      bucket,
      address: state.address,
    });
    this.#attach(membership, socket, state);
    return membership;
  }

  /**
   * Another socket for an existing member: a verified user's next tab, or a
   * member back from away. Its bucket is the one given (the caller merges
   * the socket's own with the member's).
   */
  attach(membership: Membership<S>, socket: S, bucket: Bucket): void {
    const state = this.#states.get(socket);
    if (!state) throw new Error("members: attach of a socket that is not open");
    if (membership.awayUntil !== undefined) {
      membership.awayUntil = undefined;
      this.#away.delete(membership.member.key);
    }
    membership.bucket = bucket;
    this.#attach(membership, socket, state);
  }

  /**
   * §5.3 (version 3): a member's role is that of the token presented last
   * for them, on any socket. Every socket's attachment gets the new role at
   * once, so a demotion holds on all of them, and after a wake-up too.
   */
  setRole(membership: Membership<S>, role: Role): void {
    if ((membership.member.role ?? "member") === role) return;
    membership.member.role = role;
    for (const socket of membership.sockets) {
      const state = this.#states.get(socket);
      if (!state) continue;
      state.member = membership.member;
      this.#save(socket, state);
    }
  }

  /**
   * A guest's name moves to another socket (a reclaim with the welcome's
   * token) without changing its place in the order. Returns the socket it
   * left, now without a name, if the guest had one.
   */
  handOver(membership: Membership<S>, to: S): S | undefined {
    const old = membership.sockets[0];
    const oldState = old === undefined ? undefined : this.#states.get(old);
    if (old !== undefined && oldState) {
      oldState.member = undefined;
      this.#unlist(old);
      this.#save(old, oldState);
    }
    membership.sockets = [];
    this.attach(membership, to, membership.bucket);
    return old;
  }

  /** Removes a member outright (a guest whose name a verified user takes, an away member whose grace ended); returns its sockets, now without a name. */
  remove(membership: Membership<S>): S[] {
    const sockets = membership.sockets;
    for (const socket of sockets) {
      const state = this.#states.get(socket);
      this.#unlist(socket);
      if (state) {
        state.member = undefined;
        this.#save(socket, state);
      }
    }
    membership.sockets = [];
    this.#unhold(membership);
    return sockets;
  }

  /** A member spent from its bucket through this socket; `write`: the bucket goes to that socket's attachment too. */
  spent(socket: S, membership: Membership<S>, bucket: Bucket, write: boolean): void {
    membership.bucket = bucket;
    const state = this.#states.get(socket);
    if (!state) return;
    state.bucket = bucket;
    if (write) this.#save(socket, state);
  }

  /**
   * The member membership a name: by its identity key, or by all its keys
   * (`nameKeys`), which also finds a member whose name merely conflicts.
   */
  holder(key: string | NameKeys): Membership<S> | undefined {
    return this.#roster.get(key);
  }

  /** The member a verified user is, under whatever name. */
  /** §11.1: the member whose welcome carried this token. */
  ofToken(token: string): Membership<S> | undefined {
    return this.#roster.ofToken(token);
  }

  /** The member present (or away within their grace) whose name, without regard to case, is `folded` (§10.2). */
  ofFold(folded: string): Membership<S> | undefined {
    return this.#roster.ofFold(folded);
  }

  ofUser(user: string): Membership<S> | undefined {
    return this.#roster.ofUser(user);
  }

  /** The member a socket belongs to. */
  of(socket: S): Membership<S> | undefined {
    const key = this.#states.get(socket)?.member?.key;
    return key === undefined ? undefined : this.#roster.get(key);
  }

  /** Members, away ones included. */
  get size(): number {
    return this.#roster.size;
  }

  /** Open sockets, joined or not. */
  get sockets(): number {
    return this.#states.size;
  }

  /** Open sockets that belong to no member. */
  get unjoined(): number {
    return this.#states.size - this.#v2.size - this.#v3.size;
  }

  /** Joined sockets that asked for version 3's frames (§9.1). */
  get v3(): number {
    return this.#v3.size;
  }

  /** The open socket that has held no name for longest (§2.4: the first to go when too many wait). */
  longestUnjoined(): S | undefined {
    let oldest: [S, number] | undefined;
    for (const [socket, state] of this.#states) {
      if (!state.member && (oldest === undefined || state.idleSince < oldest[1])) oldest = [socket, state.idleSince];
    }
    return oldest?.[0];
  }

  socketsOf(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** Members in join order. */
  all(): IterableIterator<Membership<S>> {
    return this.#roster.values();
  }

  names(): string[] {
    return Array.from(this.#roster.values(), (h) => h.member.name);
  }

  /** Every socket that belongs to a member. */
  *joinedSockets(): IterableIterator<S> {
    yield* this.#v2;
    yield* this.#v3;
  }

  /**
   * The joined sockets that get one version's frames (§9.1): the
   * broadcast's lists, handed out as they are, so its loop is a plain
   * iteration over a set.
   */
  joinedOf(version: 2 | 3): ReadonlySet<S> {
    return version === 2 ? this.#v2 : this.#v3;
  }

  /** Every open socket with its state. */
  entries(): IterableIterator<[S, SocketState]> {
    return this.#states.entries();
  }

  #add(socket: S, state: SocketState): void {
    this.#states.set(socket, state);
    this.#perAddress.set(state.address, (this.#perAddress.get(state.address) ?? 0) + 1);
  }

  #enlist(socket: S, state: SocketState): void {
    (state.protocol !== undefined && state.protocol >= PROTOCOL_V3 ? this.#v3 : this.#v2).add(socket);
  }

  #unlist(socket: S): void {
    this.#v2.delete(socket);
    this.#v3.delete(socket);
  }

  #unhold(membership: Membership<S>): void {
    this.#roster.delete(membership);
    if (membership.awayUntil !== undefined) this.#away.delete(membership.member.key);
  }

  #attach(membership: Membership<S>, socket: S, state: SocketState): void {
    membership.sockets.push(socket);
    membership.address = state.address;
    state.member = membership.member;
    state.bucket = membership.bucket;
    this.#enlist(socket, state);
    this.#save(socket, state);
  }

  /** Takes the socket off its member; the member leaves or goes away when it was the last. */
  #detach(socket: S, state: SocketState, awayUntil: number | undefined): Departure<S> {
    const member = state.member;
    if (!member) return { kind: "none" };
    state.member = undefined;
    this.#unlist(socket);
    const membership = this.#roster.get(member.key);
    // A name handed over to another socket is no longer this one's to give up.
    if (!membership?.sockets.includes(socket)) return { kind: "none" };
    membership.sockets = membership.sockets.filter((s) => s !== socket);
    if (membership.sockets.length > 0) return { kind: "none" };
    if (awayUntil !== undefined) {
      membership.awayUntil = awayUntil;
      this.#away.put({
        member: membership.member,
        bucket: membership.bucket,
        address: membership.address,
        until: awayUntil,
      });
      return { kind: "away", membership, until: awayUntil };
    }
    this.#unhold(membership);
    return { kind: "left", membership };
  }
}
