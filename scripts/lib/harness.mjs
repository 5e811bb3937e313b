// The one way to run edge-chat (or the benchmark's floor) outside `wrangler
// dev`: the bundle `wrangler deploy --dry-run` produces, on Miniflare, on a
// free loopback port, with the bindings wrangler.toml declares. The tests,
// the soak, the benchmark and the screenshot script all start servers here.
// JavaScript with JSDoc types, because Node 20 runs the scripts as they are;
// the TypeScript tests import it the same way.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Every client of a local load run comes from 127.0.0.1, one address. Runs
 * that play many people at once (soak, bench, the storm tests) raise the
 * per-address limits of protocol §2.4 with these, as the protocol says a
 * load test from one machine should.
 */
export const ONE_MACHINE_LOAD = Object.freeze({
  MAX_SOCKETS_PER_ADDRESS: 100_000,
  MAX_UNJOINED_SOCKETS: 100_000,
  ADDRESS_RATE_BURST: 100_000,
  ADDRESS_RATE_PER_SEC: 100_000,
  JOINS_PER_MINUTE: 100_000,
});

/**
 * Bundles the worker as `wrangler deploy` would (its [build] step, the client
 * bundle, included) into `outDir`, and returns the bundle's path.
 * @param {{ outDir: string, entry?: string }} options  entry: another main module (the bench's metered worker)
 */
export function buildWorker({ outDir, entry }) {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outDir, ...(entry ? [entry] : [])], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  // wrangler names the bundle after its entry module: index.js for src/worker/index.ts.
  const name = entry ? basename(entry).replace(/\.[cm]?[jt]s$/, ".js") : "index.js";
  return `${outDir}/${name}`;
}

/**
 * @typedef {object} StartOptions
 * @property {string} scriptPath  a bundle from buildWorker (or the floor's own script)
 * @property {Record<string, string | number>} [vars]  overrides of wrangler.toml's [vars] and secrets
 * @property {string | false} [persist]  a directory for Durable Object storage that outlives stop()
 * @property {number} [port]  a fixed port, so a restarted server is found where clients left it
 * @property {number} [inspectorPort]  workerd's V8 inspector, for profiles
 * @property {Record<string, { className: string, useSQLite: boolean }>} [durableObjects]  instead of wrangler.toml's (the floor)
 * @property {(request: Request) => Response | Promise<Response>} [outbound]  answers the worker's own fetches (a test's key server)
 * @property {boolean} [assets]  false: without wrangler.toml's static-assets router in front (the physical floor)
 * @property {"worker-first" | "assets-first"} [routing]  instead of wrangler.toml's run_worker_first patterns:
 *   `run_worker_first = true` (every request to the Worker) or `false` (a file if one matches, else the Worker)
 *
 * @typedef {object} Refusal
 * @property {number} status
 * @property {string} contentType
 * @property {unknown} body
 *
 * @typedef {Awaited<ReturnType<typeof startWorker>>} Server
 */

/** @param {StartOptions} options */
export async function startWorker(options) {
  const { workerOptions: configured } = unstable_getMiniflareWorkerOptions(`${ROOT}wrangler.toml`);
  const { assets, ...withoutAssets } = configured;
  const workerOptions =
    options.assets === false
      ? withoutAssets
      : { ...withoutAssets, assets: options.routing && assets ? routed(assets, options.routing) : assets };
  /** @type {string[]} */
  const logs = [];
  const runtimesBefore = new Set(childRuntimes());
  const mf = new Miniflare({
    ...workerOptions,
    modules: true,
    scriptPath: options.scriptPath,
    bindings: options.durableObjects ? { ...options.vars } : { ...workerOptions.bindings, ...options.vars },
    ...(options.durableObjects ? { durableObjects: options.durableObjects } : {}),
    host: "127.0.0.1",
    port: options.port ?? 0,
    durableObjectsPersist: options.persist ?? false,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    ...(options.outbound ? { outboundService: options.outbound } : {}),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding("utf8");
        stream.on("data", (/** @type {string} */ chunk) => logs.push(...chunk.split("\n").filter(Boolean)));
      }
    },
  });
  const origin = (await mf.ready).origin;
  const pid = childRuntimes().find((p) => !runtimesBefore.has(p));
  return {
    mf,
    /** http://127.0.0.1:PORT */
    origin,
    wsUrl: (/** @type {string} */ room) => `${origin.replace(/^http/, "ws")}/chat/${room}`,
    /** @type {(path: string, init?: RequestInit) => Promise<Response>} */
    http: (path, init) => fetch(`${origin}${path}`, init),
    /** A WebSocket handshake whose refusal a test reads (fetch forbids Upgrade). */
    /** @type {(path: string, headers?: Record<string, string>) => Promise<Refusal>} */
    handshake: (path, headers = {}) => handshake(`${origin}${path}`, headers),
    /** Lines the runtime printed (console.log of the worker and the objects). */
    logs,
    /** This server's workerd process (Linux), for CPU and memory figures. */
    pid,
    /** Resident memory of this server's workerd process, in bytes (Linux /proc). */
    rssBytes() {
      if (pid === undefined) throw new Error("this server's workerd process was not found");
      return rssOf(pid);
    },
    stop: () => mf.dispose(),
  };
}

const UPGRADE_HEADERS = {
  Connection: "Upgrade",
  Upgrade: "websocket",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

/** @param {string} url @param {Record<string, string>} headers @returns {Promise<Refusal>} */
function handshake(url, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { ...UPGRADE_HEADERS, ...headers } });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the handshake was accepted (101)"));
    });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (/** @type {string} */ chunk) => {
        text += chunk;
      });
      res.on("end", () => {
        const contentType = res.headers["content-type"] ?? "";
        /** @type {unknown} */
        const body = contentType.includes("json") ? JSON.parse(text) : text;
        resolve({ status: res.statusCode ?? 0, contentType, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Pids of the workerd processes this process started (Miniflare spawns them as children). */
export function childRuntimes() {
  /** @type {number[]} */
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** @param {number} pid */
function rssOf(pid) {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/**
 * The assets options with another router configuration, as `run_worker_first
 * = true` or `false` would give (for the bench's layout experiments).
 * @template {{ routerConfig?: object }} A
 * @param {A} assets @param {"worker-first" | "assets-first"} routing
 * @returns {A}
 */
function routed(assets, routing) {
  return {
    ...assets,
    routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: routing === "worker-first" },
  };
}
