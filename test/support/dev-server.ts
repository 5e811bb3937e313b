/**
 * `wrangler dev` itself, for the tests that must see what a developer's
 * `npm run dev` does (its dev proxy sits in front of the Worker and behaves
 * unlike bare Miniflare on some requests). Started in its own process group
 * and stopped as a group: killing `npx` alone would orphan workerd, which
 * keeps the port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { ROOT } from "./paths";

export interface DevServer {
  origin: string;
  /** What wrangler printed, for a failing test's message. */
  output: string[];
  stop(): Promise<void>;
}

interface DevOptions {
  envFile: string;
  persistTo: string;
  vars?: Record<string, string | number>;
}

/**
 * Starts `wrangler dev` on a free port; once more on another if the first
 * died of a rebuild during startup. wrangler rebuilds when its `[build]`
 * watch_dir reports a change, and on a loaded machine that report can
 * come while it starts, with nothing changed; the runtime it then restarts
 * can find its own port still held and exit ("Address already in use",
 * cloudflare/workers-sdk#3696 and #2445). That is wrangler's restart, not
 * what the test looks at.
 */
export async function startDev(options: DevOptions): Promise<DevServer> {
  try {
    return await launch(options);
  } catch (err) {
    const text = err instanceof Error ? err.message : "";
    if (!(text.includes("restarting build") && text.includes("Address already in use"))) throw err;
    return launch(options);
  }
}

async function launch(options: DevOptions): Promise<DevServer> {
  const port = await freePort();
  const vars = Object.entries(options.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const child = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--env-file",
      options.envFile,
      "--persist-to",
      options.persistTo,
      ...vars,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" },
    },
  );
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream?.on("data", (d: Buffer) => output.push(d.toString()));
  const origin = `http://127.0.0.1:${port}`;
  const server: DevServer = { origin, output, stop: () => stopGroup(child) };
  const deadline = Date.now() + 50_000;
  for (;;) {
    try {
      if ((await fetch(`${origin}/health`)).ok) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await server.stop();
      throw new Error(`wrangler dev did not start:\n${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const hard = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5000);
    child.once("exit", () => {
      clearTimeout(hard);
      resolve();
    });
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      clearTimeout(hard);
      resolve();
    }
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
