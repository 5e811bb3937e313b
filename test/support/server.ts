/**
 * The tests' servers: the bundle built once per run (build-worker.ts), on
 * the one harness the scripts use too (scripts/lib/harness.mjs).
 */
import { afterAll, beforeAll } from "vitest";
import { type Refusal, type Server, startWorker } from "../../scripts/lib/harness.mjs";
import { BUNDLE } from "./paths";

// Load tests raise the per-address limits; the limits themselves are tested
// with their defaults in test/node/limits.test.ts.
export { ONE_MACHINE_LOAD } from "../../scripts/lib/harness.mjs";
export type ChatServer = Server;
export type { Refusal };

export interface StartOptions {
  vars?: Record<string, string | number>;
  /** A directory for Durable Object storage that outlives stop(). */
  persistDir?: string;
  /** A fixed port, so a restarted server is found where clients left it (default: any free port). */
  port?: number;
  /** Answers the worker's own fetches, as Miniflare's outbound service (a key server for AUTH_JWKS_URL). */
  outbound?: (request: Request) => Response | Promise<Response>;
}

export function startChat(options: StartOptions = {}): Promise<ChatServer> {
  return startWorker({
    scriptPath: BUNDLE,
    ...(options.vars ? { vars: options.vars } : {}),
    persist: options.persistDir ?? false,
    ...(options.port ? { port: options.port } : {}),
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
}

/**
 * A test file's chat server (with these options), started before the
 * file's tests and stopped after them, as browserSuite does for Chromium.
 * Read `server` inside tests only.
 */
export function chatSuite(options: StartOptions = {}): { readonly server: ChatServer } {
  let server: ChatServer | undefined;
  beforeAll(async () => {
    server = await startChat(options);
  });
  afterAll(() => server?.stop());
  return {
    get server() {
      if (server === undefined) throw new Error("chatSuite: read before beforeAll ran");
      return server;
    },
  };
}
