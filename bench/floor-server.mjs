// Runs the floor (bench/floor.js) on Miniflare, for bench/run.mjs and
// bench/profile.mjs. It sits behind the same static-assets router as
// edge-chat (the [assets] block of wrangler.toml, with run_worker_first for
// /chat/*): every socket frame crosses that layer in both systems, so it
// does not count against the room.
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

const { workerOptions: edgeOptions } = unstable_getMiniflareWorkerOptions("wrangler.toml");

/** @param {{ persist: string, inspectorPort?: number }} options */
export async function startFloor({ persist, inspectorPort }) {
  const mf = new Miniflare({
    assets: edgeOptions.assets,
    durableObjectsPersist: persist,
    modules: true,
    scriptPath: "bench/floor.js",
    compatibilityDate: edgeOptions.compatibilityDate,
    durableObjects: { ROOMS: { className: "FloorRoom", useSQLite: true } },
    host: "127.0.0.1",
    port: 0,
    ...(inspectorPort ? { inspectorPort } : {}),
  });
  const origin = (await mf.ready).origin;
  return {
    origin,
    mf,
    wsUrl: (/** @type {string} */ room) => `${origin.replace(/^http/, "ws")}/chat/${room}`,
    stop: () => mf.dispose(),
  };
}
