/**
 * Runs the bundled worker (see build-worker.ts) on Miniflare, on a free
 * loopback port, with the bindings wrangler.toml declares plus per-suite
 * overrides of the protocol's vars. No wrangler dev proxy sits in between.
 */
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { Miniflare, type WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { BUNDLE, ROOT } from "./paths";

export interface ChatServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  wsUrl(room: string): string;
  http(path: string, init?: RequestInit): Promise<Response>;
  /** A WebSocket handshake request whose refusal we want to read (fetch forbids Upgrade). */
  handshake(path: string, headers?: Record<string, string>): Promise<Refusal>;
  /** Lines the runtime printed (console.log of the worker and the objects). */
  logs: string[];
  /** Resident memory of this server's workerd process, in bytes (Linux /proc). */
  rssBytes(): number;
  stop(): Promise<void>;
}

// Load tests raise the per-address limits; the limits themselves are tested
// with their defaults in test/node/limits.test.ts.
export { ONE_MACHINE_LOAD } from "../../scripts/lib/local-server.mjs";

export interface StartOptions {
  vars?: Record<string, string | number>;
  /** A directory for Durable Object storage that outlives stop(). */
  persistDir?: string;
  /** A fixed port, so a restarted server is found where clients left it (default: any free port). */
  port?: number;
}

export async function startChat(options: StartOptions = {}): Promise<ChatServer> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(`${ROOT}wrangler.toml`);
  const logs: string[] = [];
  const runtimesBefore = new Set(childRuntimes());
  const mf = new Miniflare({
    ...(workerOptions as WorkerOptions),
    modules: true,
    scriptPath: BUNDLE,
    bindings: { ...workerOptions.bindings, ...options.vars },
    host: "127.0.0.1",
    port: options.port ?? 0,
    durableObjectsPersist: options.persistDir ?? false,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => logs.push(...chunk.split("\n").filter(Boolean)));
      }
    },
  });
  const url = await mf.ready;
  const origin = url.origin;
  const pid = childRuntimes().find((p) => !runtimesBefore.has(p));
  return {
    origin,
    wsUrl: (room) => `${origin.replace(/^http/, "ws")}/chat/${room}`,
    http: (path, init) => fetch(`${origin}${path}`, init),
    handshake: (path, headers = {}) => handshake(`${origin}${path}`, headers),
    logs,
    rssBytes: () => {
      if (pid === undefined) throw new Error("this server's workerd process was not found");
      return rssOf(pid);
    },
    stop: () => mf.dispose(),
  };
}

/** Pids of the workerd processes this test process started (Miniflare spawns them as children). */
function childRuntimes(): number[] {
  const pids: number[] = [];
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

function rssOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

export interface Refusal {
  status: number;
  contentType: string;
  body: unknown;
}

const UPGRADE_HEADERS = {
  Connection: "Upgrade",
  Upgrade: "websocket",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

function handshake(url: string, headers: Record<string, string>): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { ...UPGRADE_HEADERS, ...headers } });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the handshake was accepted (101)"));
    });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        const contentType = res.headers["content-type"] ?? "";
        resolve({
          status: res.statusCode ?? 0,
          contentType,
          body: contentType.includes("json") ? JSON.parse(text) : text,
        });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
