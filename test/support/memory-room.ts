/**
 * The chat core (src/room/core.ts) in plain Node: in-memory stores, plain
 * objects as sockets, a clock the test moves, and every frame each socket
 * was sent. No workerd: this is what "the core works on plain values" buys.
 */

import { timingSafeEqual } from "node:crypto";
import { type AuthConfig, verifyIdentity } from "../../src/auth/identity";
import { UrlSigner } from "../../src/files/signing";
import { ChatCore } from "../../src/room/core";
import { snapshot } from "../../src/room/features/messages";
import type { RoomIO } from "../../src/room/io";
import { RoomBudgets } from "../../src/room/state/budgets";
import {
  type Sanction,
  type SanctionKind,
  type SanctionStore,
  Sanctions,
  sanctionId,
} from "../../src/room/state/sanctions";
import { newSocketState, type SocketState } from "../../src/room/state/socket-state";
import { isDeleted } from "../../src/room/state/stored-message";
import type {
  AwayRow,
  AwayStore,
  BucketStore,
  FileRow,
  FileStore,
  JournalEntry,
  LoadedHistory,
  MessageRow,
  MessageStore,
  PageQuery,
  PresenceStore,
  PresenceTick,
  ReaderRow,
  ReadStore,
} from "../../src/room/storage/stores";
import type { RoomSnapshot } from "../../src/shared/http";
import { DEFAULT_LIMITS, type Limits } from "../../src/shared/limits";
import type { Bucket } from "../../src/shared/rate-limit";
import { matches } from "../../src/shared/search";
import { parseServerFrame, type ServerFrame } from "../../src/shared/server-frames";
import type { UserNote } from "../../src/user/notes";

export interface FakeSocket {
  name: string;
  sent: ServerFrame[];
  closed?: { code: number; reason: string };
  attachment?: SocketState;
}

/**
 * The message store in memory: the same contract as SqlMessageStore, with
 * search as a scan by the protocol's own rule (src/shared/search.ts).
 */
export class MemoryMessageStore implements MessageStore {
  readonly rows = new Map<number, MessageRow>();
  readonly words = new Map<number, string>();
  latest = 0;
  gone = 0;
  indexed = 0;
  load(limit: number): LoadedHistory {
    const all = this.#sorted();
    const rows = all.slice(-limit).map((r) => structuredClone(r));
    return {
      rows,
      latest: this.latest,
      gone: this.gone,
      older: all.at(-rows.length - 1)?.seq ?? 0,
      indexed: this.indexed,
    };
  }
  insert(row: MessageRow): void {
    this.rows.set(row.seq, structuredClone(row));
  }
  index(after: number, max: number, words: (row: MessageRow) => string | null): number {
    const rows = this.#sorted()
      .filter((r) => r.seq > after)
      .slice(0, max);
    for (const row of rows) {
      const text = words(row);
      if (text) this.words.set(row.seq, text);
    }
    this.indexed = rows.at(-1)?.seq ?? after;
    return this.indexed;
  }
  indexWords(batch: ReadonlyArray<readonly [number, string | null]>): void {
    const last = batch.at(-1);
    if (!last) return;
    for (const [seq, words] of batch) {
      if (!this.rows.has(seq)) throw new Error(`indexWords: message ${seq} is not stored`);
      if (words) this.words.set(seq, words);
    }
    this.indexed = last[0];
  }
  update(row: MessageRow, words: string | null | undefined): void {
    this.rows.set(row.seq, structuredClone(row));
    if (words === null || words === "") this.words.delete(row.seq);
    else if (words !== undefined) this.words.set(row.seq, words);
  }
  read(seq: number): MessageRow | undefined {
    const row = this.rows.get(seq);
    return row && structuredClone(row);
  }
  page({ before, after, limit, notBefore }: PageQuery): MessageRow[] {
    const kept = this.#sorted().filter((r) => r.ts >= notBefore);
    const rows =
      after !== undefined
        ? kept.filter((r) => r.seq > after)
        : kept.filter((r) => r.seq < (before ?? Number.MAX_SAFE_INTEGER)).reverse();
    return rows.slice(0, limit + 1).map((r) => structuredClone(r));
  }
  search(words: readonly string[], before: number, limit: number, notBefore: number): MessageRow[] {
    return this.#sorted()
      .reverse()
      .filter((r) => r.seq < before && r.ts >= notBefore && matches(this.words.get(r.seq) ?? "", words))
      .slice(0, limit + 1)
      .map((r) => structuredClone(r));
  }
  expire(cutoff: number, max: number): number[] {
    const seqs = this.#sorted()
      .slice(0, max)
      .filter((r) => r.ts < cutoff)
      .map((r) => r.seq);
    for (const seq of seqs) this.#delete(seq);
    return seqs;
  }
  dropBefore(seq: number): void {
    for (const key of [...this.rows.keys()]) if (key < seq) this.#delete(key);
  }
  oldestSeq(): number | undefined {
    return this.#sorted()[0]?.seq;
  }
  oldestTs(): number | undefined {
    return this.#sorted()[0]?.ts;
  }
  mark(latest: number, gone: number): void {
    this.latest = latest;
    this.gone = gone;
  }
  migrate(rows: readonly MessageRow[]): void {
    for (const row of rows) this.insert(row);
  }
  #delete(seq: number): void {
    this.rows.delete(seq);
    this.words.delete(seq);
  }
  #sorted(): MessageRow[] {
    return [...this.rows.values()].sort((a, b) => a.seq - b.seq);
  }
}

export class MemoryBucketStore implements BucketStore {
  readonly rows = new Map<string, { bucket: Bucket; fullAt: number }>();
  load(): Iterable<[string, Bucket]> {
    return [...this.rows].map(([key, { bucket }]) => [key, bucket]);
  }
  put(key: string, bucket: Bucket, fullAt: number): void {
    this.rows.set(key, { bucket, fullAt });
  }
  prune(now: number): void {
    for (const [key, row] of this.rows) if (row.fullAt <= now) this.rows.delete(key);
  }
  exists(): boolean {
    return this.rows.size > 0;
  }
}

export class MemoryAwayStore implements AwayStore {
  readonly rows = new Map<string, AwayRow>();
  load(): AwayRow[] {
    return [...this.rows.values()].map((r) => structuredClone(r));
  }
  put(row: AwayRow): void {
    this.rows.set(row.member.key, structuredClone(row));
  }
  delete(key: string): void {
    this.rows.delete(key);
  }
}

export class MemoryPresenceStore implements PresenceStore {
  entries: JournalEntry[] = [];
  tick: PresenceTick | undefined;
  load(): { entries: JournalEntry[]; tick: PresenceTick | undefined } {
    return { entries: structuredClone(this.entries), tick: structuredClone(this.tick) };
  }
  append(entry: JournalEntry): void {
    this.entries.push(structuredClone(entry));
  }
  ticked(tick: PresenceTick): void {
    // Through JSON, as SqlPresenceStore keeps it: what JSON cannot hold is lost here too.
    this.tick = JSON.parse(JSON.stringify(tick)) as PresenceTick;
    this.entries = this.entries.filter((e) => e.n > tick.through);
  }
}

export class MemorySanctionStore implements SanctionStore {
  readonly rows = new Map<string, Sanction>();
  slowmode = 0;
  load(): { sanctions: Sanction[]; slowmode: number } {
    return { sanctions: [...this.rows.values()].map((s) => structuredClone(s)), slowmode: this.slowmode };
  }
  put(sanction: Sanction): void {
    this.rows.set(`${sanction.kind}:${sanctionId(sanction)}`, structuredClone(sanction));
  }
  delete(kind: SanctionKind, id: string): void {
    this.rows.delete(`${kind}:${id}`);
  }
  setSlowmode(seconds: number): void {
    this.slowmode = seconds;
  }
}

/** The files table, as SqlFileStore keeps it. */
export class MemoryFileStore implements FileStore {
  readonly rows = new Map<string, FileRow>();
  insert(row: FileRow): void {
    this.rows.set(row.id, { ...row });
  }
  get(id: string): FileRow | undefined {
    const row = this.rows.get(id);
    return row && { ...row };
  }
  attach(ids: readonly string[], seq: number): void {
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row) row.seq = seq;
    }
  }
  ofMessage(seq: number): FileRow[] {
    return [...this.rows.values()].filter((r) => r.seq === seq);
  }
  delete(ids: readonly string[]): void {
    for (const id of ids) this.rows.delete(id);
  }
  unattachedBefore(cutoff: number, max: number): string[] {
    return [...this.rows.values()]
      .filter((r) => r.seq === undefined && r.uploaded <= cutoff)
      .slice(0, max)
      .map((r) => r.id);
  }
  attachedBelow(seq: number, max: number): string[] {
    return [...this.rows.values()]
      .filter((r) => r.seq !== undefined && r.seq < seq)
      .slice(0, max)
      .map((r) => r.id);
  }
  oldestUnattached(): number | undefined {
    const times = [...this.rows.values()].filter((r) => r.seq === undefined).map((r) => r.uploaded);
    return times.length > 0 ? Math.min(...times) : undefined;
  }
  lowestAttached(): number | undefined {
    const seqs = [...this.rows.values()].flatMap((r) => (r.seq === undefined ? [] : [r.seq]));
    return seqs.length > 0 ? Math.min(...seqs) : undefined;
  }
}

/** FILES_SECRET of the memory room: its answers carry signed URLs. */
export const MEMORY_FILES_SECRET = "memory-room-files-secret-of-32-bytes-or-more";

/** The HS256 secret of the memory room's identity tokens (test/support/tokens.ts signs with it). */
export const MEMORY_SECRET = "memory-room-secret-of-at-least-32-bytes";
export const MEMORY_AUTH: AuthConfig = {
  secret: new TextEncoder().encode(MEMORY_SECRET),
  audience: "edge-chat",
};

/** Read state in memory: the same contract as SqlReadStore, its counts a scan of the messages. */
export class MemoryReadStore implements ReadStore {
  readonly readers = new Map<string, ReaderRow>();
  /** seq → the verified users it mentions. */
  readonly mentions = new Map<number, string[]>();
  constructor(readonly messages: MemoryMessageStore) {}
  get(user: string): ReaderRow | undefined {
    const row = this.readers.get(user);
    return row && { ...row };
  }
  put(row: ReaderRow): void {
    this.readers.set(row.user, { ...row });
  }
  recent(max: number): ReaderRow[] {
    return [...this.readers.values()].sort((a, b) => b.joined - a.joined).slice(0, max);
  }
  forgetBefore(cutoff: number): void {
    for (const [user, row] of this.readers) if (row.joined < cutoff) this.readers.delete(user);
  }
  mention(seq: number, users: readonly string[]): void {
    if (users.length > 0) this.mentions.set(seq, [...new Set(users)]);
    else this.mentions.delete(seq);
  }
  dropMentionsBelow(seq: number): void {
    for (const s of this.mentions.keys()) if (s < seq) this.mentions.delete(s);
  }
  counts(user: string, author: string, after: number, notBefore: number): { unread: number; mentions: number } {
    let unread = 0;
    let mentions = 0;
    for (const row of this.messages.rows.values()) {
      if (row.seq <= after || row.ts < notBefore || row.author === author || isDeleted(row.frame)) continue;
      unread++;
      if (this.mentions.get(row.seq)?.includes(user)) mentions++;
    }
    return { unread, mentions };
  }
}

/** A room over memory, with the storage and attachments a rebuild would find. */
export class MemoryRoom {
  clock = 1_000_000;
  alarm: number | undefined;
  reported: number[] = [];
  /** Attachment writes so far. */
  saves = 0;
  readonly messages = new MemoryMessageStore();
  readonly buckets = new MemoryBucketStore();
  readonly away = new MemoryAwayStore();
  readonly sanctions = new MemorySanctionStore();
  readonly presence = new MemoryPresenceStore();
  readonly files = new MemoryFileStore();
  readonly reads = new MemoryReadStore(this.messages);
  /** What the room told users' objects (§10.3), in order. */
  readonly notes: Array<{ user: string; note: UserNote }> = [];
  /** Keys deleted from the bucket, in order. */
  readonly forgotten: string[] = [];
  readonly sockets: FakeSocket[] = [];
  core: ChatCore<FakeSocket>;

  constructor(
    readonly limits: Limits = DEFAULT_LIMITS,
    readonly room = "memory-room",
  ) {
    this.core = this.build();
  }

  /** A new core over the same stores and attachments: what an eviction and wake-up do. */
  rebuild(): void {
    this.core = this.build([...this.sockets].filter((s) => !s.closed));
  }

  open(name: string, address = "203.0.113.1"): FakeSocket {
    const socket: FakeSocket = { name, sent: [] };
    const refusal = this.core.admit(address);
    if (refusal) throw new Error(refusal.message);
    this.sockets.push(socket);
    this.core.opened(socket, address);
    return socket;
  }

  /** A promise only for a join with `auth`, which awaits its token's check. */
  send(socket: FakeSocket, frame: Record<string, unknown>): void | Promise<void> {
    return this.core.message(socket, JSON.stringify(frame));
  }

  /** Moves the clock by `ms`, ringing the alarm whenever it falls due on the way, as the runtime would. */
  advance(ms: number): void {
    const end = this.clock + ms;
    for (let rings = 0; this.alarm !== undefined && this.alarm <= end; rings++) {
      if (rings > 1000) throw new Error("the alarm keeps ringing without the clock moving");
      this.clock = Math.max(this.clock, this.alarm);
      this.alarm = undefined;
      this.core.alarm();
    }
    this.clock = end;
  }

  /** What GET /api/rooms/:room would answer now. */
  snapshot(): RoomSnapshot {
    return snapshot(this.core);
  }

  /** Takes everything a socket was sent so far. */
  take(socket: FakeSocket): ServerFrame[] {
    return socket.sent.splice(0);
  }

  private build(restored: FakeSocket[] = []): ChatCore<FakeSocket> {
    const io: RoomIO<FakeSocket> = {
      send: (socket, frame) => {
        if (socket.closed) return;
        const parsed = parseServerFrame(frame);
        if (!parsed) throw new Error(`the core sent a frame outside the protocol: ${frame}`);
        socket.sent.push(parsed);
      },
      close: (socket, code, reason) => {
        socket.closed = { code, reason };
      },
      save: (socket, state) => {
        this.saves++;
        socket.attachment = structuredClone(state);
      },
      load: (socket) => socket.attachment ?? newSocketState(this.limits, "unknown", this.clock),
      setAlarm: (at) => {
        this.alarm = at;
      },
      reportCount: (users) => this.reported.push(users),
      forgetFiles: (keys) => this.forgotten.push(...keys),
      tellUser: (user, note) => this.notes.push({ user, note }),
    };
    return new ChatCore(
      {
        room: this.room,
        limits: this.limits,
        io,
        messages: this.messages,
        budgets: new RoomBudgets(this.buckets, this.limits),
        away: this.away,
        presence: this.presence,
        files: this.files,
        reads: this.reads,
        signer: new UrlSigner(MEMORY_FILES_SECRET, this.limits.fileUrlTtlS),
        sanctions: new Sanctions(this.sanctions),
        identify: (token) => verifyIdentity(token, MEMORY_AUTH),
        sameToken: (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b)),
        now: () => this.clock,
      },
      restored.map((s) => [s, s.attachment ?? newSocketState(this.limits, "unknown", this.clock)] as const),
    );
  }
}
