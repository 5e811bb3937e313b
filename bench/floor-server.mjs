// Runs the floor (bench/floor.js) for bench/run.mjs and bench/profile.mjs,
// on the one harness, in two shapes:
// - behind the same static-assets router as edge-chat (the [assets] block of
//   wrangler.toml, with run_worker_first for /chat/*): every socket frame
//   crosses that layer in both systems, so it does not count against the room;
// - without it (the physical floor): what a frame costs with nothing in front.
// `stores` makes it write each relayed frame to SQLite before sending it (the
// durable floor): what edge-chat's one durable write per message costs;
// `protocol` makes it relay frames of edge-chat's shape (the protocol floor);
// `batches` makes it commit them as edge-chat's group commit does (the batched floor);
// `archive` makes it keep every chat, searchable, as §8 asks (the archive floor);
// `rules` adds the checks every chat must pass (the rules floor);
// `replay` makes its welcome replay the last 100 chats (the replay floor).
import { startWorker } from "../scripts/lib/harness.mjs";

/**
 * @param {{ persist: string, inspectorPort?: number, behindAssets?: boolean, stores?: boolean,
 *   protocol?: boolean, batches?: boolean, archive?: boolean, rules?: boolean, replay?: boolean, routing?: "worker-first" | "assets-first" }} options  routing: see the harness's StartOptions
 */
export function startFloor({
  persist,
  inspectorPort,
  behindAssets = true,
  stores = false,
  protocol = false,
  batches = false,
  archive = false,
  rules = false,
  replay = false,
  routing,
}) {
  return startWorker({
    ...(routing ? { routing } : {}),
    scriptPath: "bench/floor.js",
    durableObjects: { ROOMS: { className: "FloorRoom", useSQLite: true } },
    persist,
    assets: behindAssets,
    vars: {
      ...(stores ? { FLOOR_STORES: "1" } : {}),
      ...(protocol ? { FLOOR_PROTOCOL: "1" } : {}),
      ...(batches ? { FLOOR_BATCHES: "1" } : {}),
      ...(archive ? { FLOOR_ARCHIVE: "1" } : {}),
      ...(rules ? { FLOOR_RULES: "1" } : {}),
      ...(replay ? { FLOOR_REPLAY: "1" } : {}),
    },
    ...(inspectorPort ? { inspectorPort } : {}),
  });
}
