/**
 * Uploads (protocol §11.1) and serving (§11.3) as the room decides them.
 * The Worker (src/worker/files.ts) streams the bytes between the client and
 * R2 and asks the room three things over RPC: may this token upload now
 * (`grantUpload`), here is what was stored (`recordUpload`), and may this
 * file be served (`servable`). The room never sees a file's bytes, so no
 * request body ever reaches the Durable Object.
 */
import { newFileId } from "../../shared/files";
import type { ErrorCode } from "../../shared/protocol";
import { encodeFile, type FileInfo, type StoredFile } from "../../shared/server-frames";
import type { RoomContext } from "../context";
import type { Membership } from "../state/members";
import { memberId } from "../state/socket-state";
import type { FileRow } from "../storage/stores";

export type UploadGrant =
  | { ok: true; id: string; owner: string; key: string }
  | { ok: false; status: 401 | 403 | 429; code: ErrorCode; message: string; until?: number | null };

/**
 * §11.1, in order: not_joined (the token is no joined socket's welcome
 * token: also a banned member's, whose sockets were closed), muted,
 * rate_limited (UPLOADS_PER_HOUR, spent here: a refused body still counts).
 */
export function grantUpload<S>(ctx: RoomContext<S>, token: string): UploadGrant {
  const membership = ctx.members.ofToken(token);
  if (!membership || membership.sockets.length === 0) {
    return {
      ok: false,
      status: 401,
      code: "not_joined",
      message: "Upload with the token of a socket joined to this room.",
    };
  }
  const mute = ctx.muteOf(membership);
  if (mute) return { ok: false, status: 403, code: "muted", message: "You are muted in this room.", until: mute.until };
  if (!ctx.budgets.upload(uploadKeys(membership), ctx.now())) {
    return { ok: false, status: 429, code: "rate_limited", message: "Too many uploads; wait before uploading again." };
  }
  const id = newFileId();
  return { ok: true, id, owner: memberId(membership.member), key: ctx.files.key(id) };
}

/** A stored upload's row, and its answer (§11.1: 201 `{"file"}`), signed. */
export async function recordUpload<S>(ctx: RoomContext<S>, owner: string, file: StoredFile): Promise<FileInfo> {
  const uploaded = ctx.now();
  ctx.files.uploaded({ ...file, owner, uploaded });
  // The hour an unattached file is kept starts now; the alarm deletes it after.
  ctx.wantAlarm(ctx.files.next() ?? uploaded);
  await ctx.urls.ready([file.id]);
  return { ...encodeFile(file), url: ctx.urls.url(file.id) };
}

/** What the Worker serves (§11.3), or undefined: no such file, its message deleted or expired, or unattached past its hour. */
export function servable<S>(ctx: RoomContext<S>, id: string): FileRow | undefined {
  const row = ctx.files.get(id);
  if (!row) return undefined;
  if (row.seq === undefined) return ctx.files.fresh(row, ctx.now()) ? row : undefined;
  const message = ctx.history.retained(row.seq);
  return message && !message.deleted ? row : undefined;
}

/** A verified user's uploads are theirs wherever they connect from; a guest's count by name and by address. */
function uploadKeys<S>(membership: Membership<S>): string[] {
  const id = memberId(membership.member);
  return membership.member.user === undefined ? [id, `address:${membership.address}`] : [id];
}
