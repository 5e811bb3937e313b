/**
 * The chat core (src/room/core.ts) in plain Node: in-memory stores, plain
 * objects as sockets, a clock the test moves, and every frame each socket
 * was sent. No workerd: this is what "the core works on plain values" buys.
 */

import { timingSafeEqual } from "node:crypto";
import { type AuthConfig, verifyIdentity } from "../../src/auth/identity";
import { ChatCore } from "../../src/room/core";
import { snapshot } from "../../src/room/features/messages";
import type { RoomIO } from "../../src/room/io";
import { RoomBudgets } from "../../src/room/state/budgets";
import { HistoryRing } from "../../src/room/state/history";
import {
  type Sanction,
  type SanctionKind,
  type SanctionStore,
  Sanctions,
  sanctionId,
} from "../../src/room/state/sanctions";
import { newSocketState, type SocketState } from "../../src/room/state/socket-state";
import type { AwayRow, AwayStore, BucketStore, MessageRow, RingStore } from "../../src/room/storage/stores";
import type { RoomSnapshot } from "../../src/shared/http";
import { DEFAULT_LIMITS, type Limits } from "../../src/shared/limits";
import type { Bucket } from "../../src/shared/rate-limit";
import { parseServerFrame, type ServerFrame } from "../../src/shared/server-frames";

export interface FakeSocket {
  name: string;
  sent: ServerFrame[];
  closed?: { code: number; reason: string };
  attachment?: SocketState;
}

export class MemoryRingStore implements RingStore {
  readonly rows = new Map<number, MessageRow>();
  load(): { rows: MessageRow[]; legacy: boolean } {
    return {
      rows: [...this.rows.values()].sort((a, b) => a.seq - b.seq).map((r) => structuredClone(r)),
      legacy: false,
    };
  }
  write(row: MessageRow, replacing?: number): void {
    if (replacing !== undefined) this.rows.delete(replacing);
    this.rows.set(row.v, structuredClone(row));
  }
  replaceAll(rows: readonly MessageRow[]): void {
    this.rows.clear();
    for (const row of rows) this.write(row);
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

/** The HS256 secret of the memory room's identity tokens (test/support/tokens.ts signs with it). */
export const MEMORY_SECRET = "memory-room-secret-of-at-least-32-bytes";
export const MEMORY_AUTH: AuthConfig = {
  secret: new TextEncoder().encode(MEMORY_SECRET),
  audience: "edge-chat",
};

/** A room over memory, with the storage and attachments a rebuild would find. */
export class MemoryRoom {
  clock = 1_000_000;
  alarm: number | undefined;
  reported: number[] = [];
  /** Attachment writes so far. */
  saves = 0;
  readonly ring = new MemoryRingStore();
  readonly buckets = new MemoryBucketStore();
  readonly away = new MemoryAwayStore();
  readonly sanctions = new MemorySanctionStore();
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
    };
    let history: HistoryRing | undefined;
    return new ChatCore(
      {
        room: this.room,
        limits: this.limits,
        io,
        history: () => {
          history ??= new HistoryRing(this.ring, this.limits.historyLimit);
          return history;
        },
        budgets: new RoomBudgets(this.buckets, this.limits),
        away: this.away,
        sanctions: new Sanctions(this.sanctions),
        identify: (token) => verifyIdentity(token, MEMORY_AUTH),
        sameToken: (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b)),
        now: () => this.clock,
      },
      restored.map((s) => [s, s.attachment ?? newSocketState(this.limits, "unknown", this.clock)] as const),
    );
  }
}
