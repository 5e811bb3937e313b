// The systems npm run bench compares (bench/run.mjs): edge-chat with a
// metered room, and the floors of bench/floor.js in their shapes.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { startFloor } from "./floor-server.mjs";

// The production worker with a room that also counts SQLite rows (bench/metered-worker.ts).
let EDGE_BUNDLE = "";
/** The production bundle itself, without the row counts (the edge-chat-unmetered experiment). */
let PROD_BUNDLE = "";
/**
 * Which bundles startEdge runs: set once by the run, after they are built.
 * @param {string} path the metered bundle @param {string} [prod] the production one
 */
export function useEdgeBundle(path, prod = "") {
  EDGE_BUNDLE = path;
  PROD_BUNDLE = prod;
}
/** HS256 key of the identity tokens of the joinstorm-auth scenario. */
export const AUTH_SECRET = "bench-auth-secret-0123456789abcdefghijkl";
/** The RS256 key of joinstorm-rs256, whose public half the worker fetches (through Miniflare's outbound service). */
const JWKS_URL = "https://keys.bench.example/jwks.json";
export const RSA = await generateKeyPair("RS256");
/** How often the worker fetched the key set (a storm of RS256 joins on a cold isolate should not fetch it per join). */
let jwksFetches = 0;
/** Key-set fetches so far in this process. */
export const jwksFetchCount = () => jwksFetches;
const JWKS = JSON.stringify({
  keys: [{ ...(await exportJWK(RSA.publicKey)), kid: "bench", alg: "RS256", use: "sig" }],
});
const EDGE_VARS = {
  ...ONE_MACHINE_LOAD,
  RATE_BURST: 1_000_000,
  RATE_PER_SEC: 1_000_000,
  MAX_ROOM_USERS: 100_000,
  // bench/archive.mjs reads thousands of pages from one socket.
  READS_PER_MINUTE: 1_000_000,
  REPLY_BYTES_PER_MINUTE: 1_000_000_000,
  AUTH_SECRET,
  AUTH_JWKS_URL: JWKS_URL,
};

/** Durable Object storage on tmpfs, so a run measures the room, not the disk. */
const TMPFS = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const storageDir = () => mkdtempSync(join(TMPFS, "edge-chat-bench-"));

/** @param {{ groupCommit?: boolean, inspectorPort?: number, metered?: boolean }} [options] */
export async function startEdge({ groupCommit = true, inspectorPort, metered = true } = {}) {
  const dir = storageDir();
  const server = await startWorker({
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    scriptPath: metered ? EDGE_BUNDLE : PROD_BUNDLE,
    vars: groupCommit ? EDGE_VARS : { ...EDGE_VARS, BENCH_GROUP_COMMIT: "off" },
    persist: dir,
    outbound: (request) => {
      if (request.url !== JWKS_URL) return new Response("not here", { status: 404 });
      jwksFetches++;
      return new Response(JWKS, { headers: { "Content-Type": "application/json" } });
    },
  });
  const metrics = async (/** @type {string} */ room) => {
    // The unmetered experiment counts nothing (only its CPU is compared).
    if (!metered) throw new Error("edge-chat-unmetered counts no rows: run it only in scenarios that report none");
    const ns = await server.mf.getDurableObjectNamespace("ROOMS");
    // The metered room's RPC (bench/metered-worker.ts); Miniflare's stub type does not know it.
    const stub =
      /** @type {{ metrics(): Promise<{ rowsWritten: number, rowsRead: number, commits: number, writtenBy: Record<string, number> }> }} */ (
        /** @type {unknown} */ (ns.get(ns.idFromName(room)))
      );
    return stub.metrics();
  };
  const storage = async (/** @type {string} */ room) => {
    const ns = await server.mf.getDurableObjectNamespace("ROOMS");
    const stub = /** @type {{ storageBytes(): Promise<number> }} */ (
      /** @type {unknown} */ (ns.get(ns.idFromName(room)))
    );
    return stub.storageBytes();
  };
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async rowsWritten(/** @type {string} */ room) {
      return (await metrics(room)).rowsWritten;
    },
    /** Rows written so far by each kind of statement. */
    async writtenBy(/** @type {string} */ room) {
      return (await metrics(room)).writtenBy;
    },
    /** Batches the room's group commit handled (one sync() each). @returns {Promise<number | undefined>} */
    async commits(/** @type {string} */ room) {
      return (await metrics(room)).commits;
    },
    /** @returns {Promise<number | undefined>} */
    async rowsRead(/** @type {string} */ room) {
      return (await metrics(room)).rowsRead;
    },
    storageBytes: storage,
  };
}

/** @param {Omit<Parameters<typeof startFloor>[0], "persist">} shape  the floor's shape (bench/floor-server.mjs) */
async function startFloorRun(shape) {
  const dir = storageDir();
  const server = await startFloor({ ...shape, persist: dir });
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    /** The floor counts no rows (the durable one writes one per relayed frame). @returns {Promise<number | undefined>} */
    rowsWritten: async () => (shape.stores ? undefined : 0),
    /** @returns {Promise<number | undefined>} */
    rowsRead: async () => undefined,
    /** The floor commits once per relayed frame, by the runtime's own rule. @returns {Promise<number | undefined>} */
    commits: async () => undefined,
  };
}

/** b − a, unless either is unknown. @param {number | undefined} a @param {number | undefined} b */
export const delta = (a, b) => (a === undefined || b === undefined ? undefined : b - a);

export const SYSTEMS = {
  "edge-chat": () => startEdge(),
  // An experiment, run only when named in --systems: edge-chat without
  // group commit, every frame handled (and committed) on its own.
  "edge-chat-solo": () => startEdge({ groupCommit: false }),
  // An experiment: the production bundle as deployed, without the metered
  // room's row counts (it reports no rows; the CPU scenarios need none).
  "edge-chat-unmetered": () => startEdge({ metered: false }),
  /** The same shape as edge-chat: the floor behind the static-assets router. */
  floor: () => startFloorRun({ behindAssets: true }),
  /** The physical floor: nothing in front of the room. */
  "floor-physical": () => startFloorRun({ behindAssets: false }),
  /** The same-shape floor that also stores every relayed frame (one SQLite row), as edge-chat stores every chat. */
  "floor-durable": () => startFloorRun({ behindAssets: true, stores: true }),
  // An experiment, run only when named in --systems: the durable floor that
  // relays frames of edge-chat's shape (bench/floor.js), none of its rules.
  "floor-protocol": () => startFloorRun({ behindAssets: true, stores: true, protocol: true }),
  // An experiment, run only when named: the protocol floor with edge-chat's
  // group commit, so the best a room that stores before it sends can do.
  "floor-batched": () => startFloorRun({ behindAssets: true, stores: true, protocol: true, batches: true }),
  // An experiment, run only when named: the protocol floor that keeps every
  // chat in edge-chat's message table and search index (§8), in place of a ring.
  "floor-archive": () => startFloorRun({ behindAssets: true, stores: true, protocol: true, archive: true }),
  // An experiment, run only when named: the archive floor with edge-chat's group
  // commit, so the best a room that keeps §8's guarantees can do in throughput.
  "floor-archive-batched": () =>
    startFloorRun({ behindAssets: true, stores: true, protocol: true, archive: true, batches: true }),
  // An experiment, run only when named: the archive floor holding each chat to
  // the checks §2.2 and §2.4 ask, in their cheapest form (bench/floor.js).
  "floor-rules": () => startFloorRun({ behindAssets: true, stores: true, protocol: true, archive: true, rules: true }),
  // An experiment, run only when named: the protocol floor whose welcome replays
  // the last 100 chats, as edge-chat's replays its ring (the join storms' history).
  "floor-replay": () => startFloorRun({ behindAssets: true, stores: true, protocol: true, replay: true }),
  // Layout experiments, run only when named in --systems (docs/benchmarks.md,
  // "The assets router"): the floor with run_worker_first = true, and = false.
  "floor-worker-first": () => startFloorRun({ behindAssets: true, routing: "worker-first" }),
  "floor-assets-first": () => startFloorRun({ behindAssets: true, routing: "assets-first" }),
};
/** @typedef {keyof typeof SYSTEMS} SystemName */
