/**
 * A file's life in the chat core (protocol §11), with a clock the test
 * moves: an unattached upload deleted by the alarm after its hour, an
 * attached one kept as long as its message, retention and a ring-only
 * room taking files with their messages, and a chat whose URLs await
 * signing still answered in frame order. The sockets suite
 * (files.test.ts) proves the HTTP side through the runtime.
 */
import { describe, expect, it } from "vitest";
import { grantUpload, recordUpload, servable } from "../../src/room/features/files";
import { UNATTACHED_FILE_MS } from "../../src/shared/files";
import { DEFAULT_LIMITS, type Limits } from "../../src/shared/limits";
import type { ServerFrameOf } from "../../src/shared/server-frames";
import { type FakeSocket, MemoryRoom } from "../support/memory-room";

const MINUTE = 60_000;
const DAY = 86_400_000;

function joined(room: MemoryRoom, name: string): { socket: FakeSocket; token: string } {
  const socket = room.open(name);
  void room.send(socket, { type: "join", name, protocol: 3 });
  const welcome = room.take(socket).find((f) => f.type === "welcome");
  if (welcome?.type !== "welcome") throw new Error("no welcome");
  return { socket, token: welcome.token };
}

async function upload(room: MemoryRoom, token: string): Promise<string> {
  const grant = grantUpload(room.core, token);
  if (!grant.ok) throw new Error(grant.code);
  const file = await recordUpload(room.core, grant.owner, { id: grant.id, name: "a.png", type: "image/png", size: 10 });
  return file.id;
}

async function chatWith(room: MemoryRoom, socket: FakeSocket, files: string[], text = "look"): Promise<number> {
  await room.send(socket, { type: "chat", text, files });
  const chat = room.take(socket).find((f): f is ServerFrameOf<"chat"> => f.type === "chat");
  if (!chat) throw new Error("no chat");
  return chat.seq;
}

describe("a file's life (§11)", () => {
  it("deletes an upload no message took from the bucket an hour after it came", async () => {
    const room = new MemoryRoom();
    const { token } = joined(room, "Ann");
    const id = await upload(room, token);
    room.advance(UNATTACHED_FILE_MS - MINUTE);
    expect([room.forgotten, servable(room.core, id)?.id]).toEqual([[], id]);
    room.advance(2 * MINUTE);
    expect([room.forgotten, servable(room.core, id), room.files.rows.size]).toEqual([
      [`memory-room/${id}`],
      undefined,
      0,
    ]);
  });

  it("refuses to attach an upload past its hour, even before the alarm has swept it", async () => {
    const room = new MemoryRoom();
    const { socket, token } = joined(room, "Ann");
    const id = await upload(room, token);
    // The clock moves without the alarm ringing: the row is still there.
    room.clock += UNATTACHED_FILE_MS;
    await room.send(socket, { type: "chat", text: "late", files: [id] });
    expect(room.take(socket).map((f) => (f.type === "error" ? f.code : f.type))).toEqual(["not_found"]);
  });

  it("keeps an attached file past the hour, as long as its message", async () => {
    const room = new MemoryRoom();
    const { socket, token } = joined(room, "Ann");
    const id = await upload(room, token);
    await chatWith(room, socket, [id]);
    room.advance(3 * UNATTACHED_FILE_MS);
    expect([room.forgotten, servable(room.core, id)?.id]).toEqual([[], id]);
  });

  it("stops serving a file when its message expires, and the sweep deletes it from the bucket", async () => {
    const limits: Limits = { ...DEFAULT_LIMITS, historyRetentionMs: DAY };
    const room = new MemoryRoom(limits);
    const { socket, token } = joined(room, "Ann");
    const id = await upload(room, token);
    await chatWith(room, socket, [id]);
    room.clock += DAY + 1;
    // Expired, not yet swept: already unservable (§11.3).
    expect([servable(room.core, id), room.forgotten]).toEqual([undefined, []]);
    room.advance(DAY);
    expect(room.forgotten).toEqual([`memory-room/${id}`]);
  });

  it("takes a file out of the bucket with its message in a ring-only room", async () => {
    const limits: Limits = { ...DEFAULT_LIMITS, historyRetentionMs: 0, historyLimit: 2 };
    const room = new MemoryRoom(limits);
    const { socket, token } = joined(room, "Ann");
    const id = await upload(room, token);
    await chatWith(room, socket, [id]);
    await room.send(socket, { type: "chat", text: "two" });
    expect(room.forgotten).toEqual([]);
    await room.send(socket, { type: "chat", text: "three" });
    expect([room.forgotten, servable(room.core, id)]).toEqual([[`memory-room/${id}`], undefined]);
  });

  it("answers a chat that awaits its URLs before the sender's next frame", async () => {
    const room = new MemoryRoom();
    const ann = joined(room, "Ann");
    const ben = joined(room, "Ben");
    const id = await upload(room, ann.token);
    // A new signing step: the file's URL must be signed again before it goes out.
    room.clock += 20 * MINUTE;
    const first = room.send(ann.socket, { type: "chat", text: "with a file", files: [id] });
    const second = room.send(ann.socket, { type: "chat", text: "after it" });
    expect(first).toBeInstanceOf(Promise);
    await first;
    await second;
    const chats = room.take(ben.socket).filter((f): f is ServerFrameOf<"chat"> => f.type === "chat");
    expect(chats.map((c) => [c.seq, c.text, c.files?.length ?? 0])).toEqual([
      [1, "with a file", 1],
      [2, "after it", 0],
    ]);
  });

  it("refuses a guest's upload by name and address once either has spent UPLOADS_PER_HOUR", () => {
    const room = new MemoryRoom({ ...DEFAULT_LIMITS, uploadsPerHour: 2 });
    const ann = joined(room, "Ann");
    expect([grantUpload(room.core, ann.token).ok, grantUpload(room.core, ann.token).ok]).toEqual([true, true]);
    const refused = grantUpload(room.core, ann.token);
    expect(refused).toMatchObject({ ok: false, status: 429, code: "rate_limited" });
    // Another name from the same address has no uploads left either.
    expect(grantUpload(room.core, joined(room, "Bea").token)).toMatchObject({ ok: false, code: "rate_limited" });
    room.advance(UNATTACHED_FILE_MS / 2);
    expect(grantUpload(room.core, ann.token).ok).toBe(true);
  });
});
