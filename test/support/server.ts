/**
 * Runs the bundled worker (see build-worker.ts) on Miniflare, on a free
 * loopback port, with the bindings wrangler.toml declares plus per-suite
 * overrides of the protocol's vars. No wrangler dev proxy sits in between.
 */
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
  stop(): Promise<void>;
}

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
  return {
    origin,
    wsUrl: (room) => `${origin.replace(/^http/, "ws")}/chat/${room}`,
    http: (path, init) => fetch(`${origin}${path}`, init),
    handshake: (path, headers = {}) => handshake(`${origin}${path}`, headers),
    logs,
    stop: () => mf.dispose(),
  };
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
