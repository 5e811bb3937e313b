/**
 * History beyond the ring and search (protocol §8): the `history` and
 * `search` frames, answered to the asking socket only, and the same two
 * reads for the HTTP API (§8.4). The pages come from the store
 * (state/archive.ts) as stored frames, spliced into the answer unparsed.
 */
import type { ClientFrameOf } from "../../shared/protocol";
import { DEFAULT_HISTORY_PAGE, DEFAULT_SEARCH_PAGE } from "../../shared/protocol";
import { parseQuery } from "../../shared/search";
import { encodeHistory, encodeSearch, errorFrame } from "../../shared/server-frames";
import type { Answer, RoomContext, Sender } from "../context";

/** Checks, in order: bad_message (limit, both cursors), rate_limited. */
export function history<S>(
  ctx: RoomContext<S>,
  sender: Sender<S>,
  frame: ClientFrameOf<"history">,
): Answer | Promise<Answer> {
  const limit = pageLimit(ctx, frame.limit, DEFAULT_HISTORY_PAGE);
  if (limit === undefined) return badLimit(ctx);
  if (frame.before !== undefined && frame.after !== undefined) {
    return errorFrame("bad_message", "Give `before` or `after`, not both.");
  }
  if (!ctx.spendRead(sender)) return errorFrame("rate_limited", "Too many history and search requests; wait a minute.");
  const page = ctx.archive.history({ before: frame.before, after: frame.after, limit });
  return ctx.urls.signed(page.frames, (frames) => encodeHistory(ctx.room, frames, page.more));
}

/** Checks, in order: bad_message (limit, q), rate_limited. */
export function search<S>(
  ctx: RoomContext<S>,
  sender: Sender<S>,
  frame: ClientFrameOf<"search">,
): Answer | Promise<Answer> {
  const limit = pageLimit(ctx, frame.limit, DEFAULT_SEARCH_PAGE);
  if (limit === undefined) return badLimit(ctx);
  const query = parseQuery(frame.q);
  if (!query.ok) return errorFrame("bad_message", query.message);
  if (!ctx.spendRead(sender)) return errorFrame("rate_limited", "Too many history and search requests; wait a minute.");
  const page = ctx.archive.search(query.words, frame.before, limit);
  return ctx.urls.signed(page.frames, (frames) => encodeSearch(ctx.room, frame.q, frames, page.more));
}

/** What the HTTP routes of §8.4 get back: the body, or the refusal. */
export type ReadResult = { ok: true; body: string } | { ok: false; code: "bad_request" | "bad_query"; message: string };

/** GET …/messages?before= (§8.4): as `history` with `before`, without `type`. */
export function messagesBefore<S>(
  ctx: RoomContext<S>,
  before: number | undefined,
  limit: number | undefined,
): ReadResult | Promise<ReadResult> {
  const size = pageLimit(ctx, limit, DEFAULT_HISTORY_PAGE, true);
  if (size === undefined) return { ok: false, code: "bad_request", message: "limit must be at least 1." };
  const page = ctx.archive.history({ before, limit: size });
  return ctx.urls.signed(page.frames, (frames) => ({
    ok: true,
    body: encodeHistory(ctx.room, frames, page.more, false),
  }));
}

/** GET …/search?q= (§8.4): as `search`, without `type`. */
export function searchRoom<S>(
  ctx: RoomContext<S>,
  q: string,
  before: number | undefined,
  limit: number | undefined,
): ReadResult | Promise<ReadResult> {
  const size = pageLimit(ctx, limit, DEFAULT_SEARCH_PAGE, true);
  if (size === undefined) return { ok: false, code: "bad_request", message: "limit must be at least 1." };
  const query = parseQuery(q);
  if (!query.ok) return { ok: false, code: "bad_query", message: query.message };
  const page = ctx.archive.search(query.words, before, size);
  return ctx.urls.signed(page.frames, (frames) => ({
    ok: true,
    body: encodeSearch(ctx.room, q, frames, page.more, false),
  }));
}

/**
 * A page's size: the default capped at HISTORY_PAGE_LIMIT when absent; a
 * frame's `limit` above the cap is out of range (§8.2: `bad_message`), an
 * HTTP `limit` above it is capped (§8.4). Undefined: refused.
 */
function pageLimit<S>(
  ctx: RoomContext<S>,
  asked: number | undefined,
  fallback: number,
  cap = false,
): number | undefined {
  const max = ctx.limits.historyPageLimit;
  if (asked === undefined) return Math.min(fallback, max);
  if (asked < 1) return undefined;
  if (asked > max) return cap ? max : undefined;
  return asked;
}

function badLimit<S>(ctx: RoomContext<S>): string {
  return errorFrame("bad_message", `Field \`limit\`: at most ${ctx.limits.historyPageLimit}.`);
}
