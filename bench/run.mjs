// npm run bench: edge-chat against three floors (bench/floor.js): the same
// minimal room behind the static-assets router, as edge-chat is deployed
// ("floor", the reference of the targets); without it ("floor-physical");
// and behind it, storing each relayed frame in SQLite before sending it
// ("floor-durable", what one durable write per message costs). Interleaved,
// on the same workerd, over real WebSockets on loopback.
//
//   npm run bench                         9 scenarios × 4 systems × 3 repetitions
//   npm run bench -- --reps 1 --seconds 2 --scale 0.25      (the CI smoke run)
//   npm run bench -- --only throughput --systems edge-chat,floor   (an experiment)
//
// Each (scenario, system) run gets a fresh runtime, so peak RSS is its own.
// The load generator is this Node process, connected straight to workerd
// (Miniflare, no wrangler dev proxy); storage is on tmpfs. CPU is read from
// /proc for the workerd process only. Every figure is printed per system as
// the median over repetitions, and edge-chat's also as a ratio to each
// floor's from the same run. Nothing here is asserted: timings go to the
// table and to bench/results/latest.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import WebSocket from "ws";
import { buildWorker, childRuntimes, ONE_MACHINE_LOAD, startWorker } from "../scripts/lib/harness.mjs";
import { numericArgs, percentile } from "../scripts/lib/stats.mjs";
import { startFloor } from "./floor-server.mjs";
import { chatFrame, cpuMs, drain, joinAll, joinAs, peakRssMb, round, sleep, summary, Tally } from "./load.mjs";

const opts = numericArgs({ reps: 3, seconds: 10, scale: 1 });
// --only fanout,rooms runs a subset of the scenarios.
const onlyIndex = process.argv.indexOf("--only");
const only = onlyIndex > 0 ? (process.argv[onlyIndex + 1] ?? "").split(",") : undefined;
// --systems edge-chat,floor runs a subset of the systems (for experiments; ratios need both).
const systemsIndex = process.argv.indexOf("--systems");
const onlySystems = systemsIndex > 0 ? (process.argv[systemsIndex + 1] ?? "").split(",") : undefined;
const scaled = (/** @type {number} */ n) => Math.max(2, Math.round(n * opts.scale));

// ---------------------------------------------------------------------------
// Systems under test
// ---------------------------------------------------------------------------

// The production worker with a room that also counts SQLite rows (bench/metered-worker.ts).
let EDGE_BUNDLE = "";
/** HS256 key of the identity tokens of the joinstorm-auth scenario. */
const AUTH_SECRET = "bench-auth-secret-0123456789abcdefghijkl";
/** The RS256 key of joinstorm-rs256, whose public half the worker fetches (through Miniflare's outbound service). */
const JWKS_URL = "https://keys.bench.example/jwks.json";
const RSA = await generateKeyPair("RS256");
/** How often the worker fetched the key set (a storm of RS256 joins on a cold isolate should not fetch it per join). */
let jwksFetches = 0;
const JWKS = JSON.stringify({
  keys: [{ ...(await exportJWK(RSA.publicKey)), kid: "bench", alg: "RS256", use: "sig" }],
});
const EDGE_VARS = {
  ...ONE_MACHINE_LOAD,
  RATE_BURST: 1_000_000,
  RATE_PER_SEC: 1_000_000,
  MAX_ROOM_USERS: 100_000,
  AUTH_SECRET,
  AUTH_JWKS_URL: JWKS_URL,
};

/** Durable Object storage on tmpfs, so a run measures the room, not the disk. */
const TMPFS = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const storageDir = () => mkdtempSync(join(TMPFS, "edge-chat-bench-"));

async function startEdge() {
  const dir = storageDir();
  const server = await startWorker({
    scriptPath: EDGE_BUNDLE,
    vars: EDGE_VARS,
    persist: dir,
    outbound: (request) => {
      if (request.url !== JWKS_URL) return new Response("not here", { status: 404 });
      jwksFetches++;
      return new Response(JWKS, { headers: { "Content-Type": "application/json" } });
    },
  });
  const metrics = async (/** @type {string} */ room) => {
    const ns = await server.mf.getDurableObjectNamespace("ROOMS");
    // The metered room's RPC (bench/metered-worker.ts); Miniflare's stub type does not know it.
    const stub = /** @type {{ metrics(): Promise<{ rowsWritten: number, rowsRead: number }> }} */ (
      /** @type {unknown} */ (ns.get(ns.idFromName(room)))
    );
    return stub.metrics();
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
    /** @returns {Promise<number | undefined>} */
    async rowsRead(/** @type {string} */ room) {
      return (await metrics(room)).rowsRead;
    },
  };
}

/** @param {{ behindAssets: boolean, stores?: boolean, routing?: "worker-first" | "assets-first" }} shape */
async function startFloorRun({ behindAssets, stores = false, routing }) {
  const dir = storageDir();
  const server = await startFloor({ persist: dir, behindAssets, stores, ...(routing ? { routing } : {}) });
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    /** The floor counts no rows (the durable one writes one per relayed frame). @returns {Promise<number | undefined>} */
    rowsWritten: async () => (stores ? undefined : 0),
    /** @returns {Promise<number | undefined>} */
    rowsRead: async () => undefined,
  };
}

/** b − a, unless either is unknown. @param {number | undefined} a @param {number | undefined} b */
const delta = (a, b) => (a === undefined || b === undefined ? undefined : b - a);

const SYSTEMS = {
  "edge-chat": startEdge,
  /** The same shape as edge-chat: the floor behind the static-assets router. */
  floor: () => startFloorRun({ behindAssets: true }),
  /** The physical floor: nothing in front of the room. */
  "floor-physical": () => startFloorRun({ behindAssets: false }),
  /** The same-shape floor that also stores every relayed frame (one SQLite row), as edge-chat stores every chat. */
  "floor-durable": () => startFloorRun({ behindAssets: true, stores: true }),
  // Layout experiments, run only when named in --systems (docs/benchmarks.md,
  // "The assets router"): the floor with run_worker_first = true, and = false.
  "floor-worker-first": () => startFloorRun({ behindAssets: true, routing: "worker-first" }),
  "floor-assets-first": () => startFloorRun({ behindAssets: true, routing: "assets-first" }),
};
/** @typedef {keyof typeof SYSTEMS} SystemName */

// ---------------------------------------------------------------------------
// Scenarios. Each returns its figures; CPU covers the measured phase only.
// ---------------------------------------------------------------------------

/**
 * What a scenario gets: a running system, its workerd pids, a run id for room names.
 * @typedef {Awaited<ReturnType<typeof startEdge>> | Awaited<ReturnType<typeof startFloorRun>>} System
 * @typedef {(server: System, pids: number[], runId: string) => Promise<Record<string, number | undefined>>} Scenario
 */

/** @type {Record<string, Scenario>} */
const SCENARIOS = {
  async fanout(server, pids, runId) {
    const room = `fanout-${runId}`;
    const tally = new Tally();
    const names = Array.from({ length: scaled(200) }, (_, i) => `f${i}`);
    const clients = await joinAll(server, room, names, tally);
    const rows0 = await server.rowsWritten(room);
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    let sent = 0;
    const sender = clients[0]?.ws;
    const first = names[0] ?? "";
    if (!sender) throw new Error("no clients joined");
    const total = 50 * opts.seconds;
    await new Promise((/** @type {(value?: unknown) => void} */ resolve) => {
      const timer = setInterval(() => {
        sender.send(chatFrame(first, sent++));
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    await drain(() => tally.deliveries >= sent * names.length);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMs(pids) - cpu0;
    const rows = delta(rows0, await server.rowsWritten(room));
    for (const c of clients) c.ws.close();
    return summary(tally, {
      seconds,
      cpu,
      committed: sent,
      rows,
      lost: tally.lost([{ receivers: names, sent: new Map([[first, sent]]) }]),
    });
  },

  async throughput(server, pids, runId) {
    const room = `throughput-${runId}`;
    const tally = new Tally();
    const names = Array.from({ length: scaled(20) }, (_, i) => `t${i}`);
    const sent = new Map(names.map((n) => [n, 0]));
    let running = true;
    /** @type {import("./load.mjs").Joined[]} */
    const clients = [];
    for (const name of names) {
      // Closed loop: a client's next message goes when its previous one is back.
      const client = await joinAs(server.wsUrl(room), name, (frame, now) => {
        tally.record(name, frame, now);
        if (running && frame.text?.startsWith(`${name}|`)) {
          const next = (sent.get(name) ?? 0) + 1;
          sent.set(name, next);
          client.ws.send(chatFrame(name, next));
        }
      });
      clients.push(client);
    }
    const rows0 = await server.rowsWritten(room);
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    for (const [i, c] of clients.entries()) c.ws.send(chatFrame(names[i] ?? "", 0));
    await sleep(opts.seconds * 1000);
    running = false;
    const seconds = (performance.now() - t0) / 1000;
    // Messages sent = counters 0..sent[name] for each client.
    const sentCounts = new Map([...sent].map(([n, c]) => [n, c + 1]));
    const expected = [...sentCounts.values()].reduce((a, b) => a + b, 0) * names.length;
    await drain(() => tally.deliveries >= expected);
    const cpu = cpuMs(pids) - cpu0;
    const committed = [...sent.values()].reduce((a, b) => a + b, 0);
    const rows = delta(rows0, await server.rowsWritten(room));
    for (const c of clients) c.ws.close();
    return summary(tally, {
      seconds,
      cpu,
      committed,
      rows,
      lost: tally.lost([{ receivers: names, sent: sentCounts }]),
    });
  },

  // Protocol §7 on the hot path: 20 closed-loop clients, each cycling
  // chat → edit of that chat → reaction to it, the next frame sent when the
  // last one's broadcast is back. Every event reaches all 20. The floor
  // relays the frames as they are (a made-up target, since it numbers
  // nothing), so the ratio is what storing and encoding the events costs.
  async mixed(server, pids, runId) {
    const room = `mixed-${runId}`;
    const tally = new Tally();
    const names = Array.from({ length: scaled(20) }, (_, i) => `m${i}`);
    let running = false;
    let events = 0;
    /** receiver → last event seq (edge-chat numbers every event) @type {Map<string, number>} */
    const lastSeq = new Map();
    /** @type {Array<{ ws: WebSocket, next: () => void }>} */
    const clients = [];
    for (const [index, name] of names.entries()) {
      const { ws } = await joinAs(server.wsUrl(room), name);
      let step = 0;
      let counter = 0;
      let target = 0;
      let sentAt = 0;
      const next = () => {
        sentAt = performance.now();
        events++;
        const text = `${name}|${counter}|${step === 0 ? "chat" : "edited"}`;
        const frame =
          step === 0
            ? { type: "chat", text, id: `${runId}-${name}-${counter}` }
            : step === 1
              ? { type: "edit", seq: target, text }
              : { type: "react", seq: target, emoji: "👍" };
        ws.send(JSON.stringify(frame));
      };
      ws.on("message", (data) => {
        const frame = JSON.parse(data.toString());
        const type = frame.type;
        if (!["chat", "update", "edit", "react"].includes(type)) return;
        tally.deliveries++;
        if (typeof frame.seq === "number" && (type === "chat" || type === "update")) {
          const last = lastSeq.get(name) ?? 0;
          if (frame.seq === last) tally.duplicated++;
          else if (frame.seq < last) tally.outOfOrder++;
          lastSeq.set(name, Math.max(last, frame.seq));
        }
        // Is this the broadcast of this client's own last frame?
        const mine =
          step === 0
            ? type === "chat" && frame.text === `${name}|${counter}|chat`
            : type === "update"
              ? frame.target === target
              : (type === "edit" || type === "react") && frame.seq === target;
        if (!mine) return;
        tally.latencies.push(performance.now() - sentAt);
        if (step === 0) target = typeof frame.seq === "number" ? frame.seq : (index + 1) * 1_000_000 + counter;
        step = (step + 1) % 3;
        if (step === 0) counter++;
        if (running) next();
      });
      clients.push({ ws, next });
    }
    const rows0 = await server.rowsWritten(room);
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    running = true;
    for (const c of clients) c.next();
    await sleep(opts.seconds * 1000);
    running = false;
    const seconds = (performance.now() - t0) / 1000;
    await drain(() => tally.deliveries >= events * names.length);
    const cpu = cpuMs(pids) - cpu0;
    const rows = delta(rows0, await server.rowsWritten(room));
    for (const c of clients) c.ws.close();
    return summary(tally, { seconds, cpu, committed: events, rows, lost: events * names.length - tally.deliveries });
  },

  joinstorm: (server, pids, runId) => joinStorm(server, pids, runId, undefined),

  // The same storm, every client joining with its own identity token
  // (protocol §5): what checking a signature adds to a join, with a shared
  // secret and with a public key from a key set. The floor has no notion of
  // tokens and welcomes the join like any other.
  "joinstorm-auth": (server, pids, runId) => joinStorm(server, pids, runId, "HS256"),
  "joinstorm-rs256": (server, pids, runId) => joinStorm(server, pids, runId, "RS256"),

  // Protocol §7: storage rows written per event type, once the ring is full
  // (so every chat replaces a row). Edge-chat only: the floor stores nothing.
  async lifecycle(server, pids, runId) {
    const room = `lifecycle-${runId}`;
    if ((await server.rowsRead(room)) === undefined)
      return { rowsPerChat: 0, rowsPerEdit: 0, rowsPerReact: 0, rowsPerDelete: 0 };
    const { ws } = await joinAs(server.wsUrl(room), "life");
    let echoes = 0;
    ws.on("message", (data) => {
      const type = JSON.parse(data.toString()).type;
      if (type === "chat" || type === "update") echoes++;
    });
    /** Sends frames one by one (each after the last one's broadcast came back). @param {unknown[]} frames */
    const run = async (frames) => {
      for (const frame of frames) {
        const before = echoes;
        ws.send(JSON.stringify(frame));
        await drain(() => echoes > before, 2000);
      }
    };
    // Fill the ring (HISTORY_LIMIT 100), then measure 20 events of each kind.
    await run(Array.from({ length: 100 }, (_, i) => ({ type: "chat", text: `fill ${i}` })));
    const n = 20;
    const targets = Array.from({ length: n }, (_, i) => 100 + i + 1); // the 20 chats below: seqs 101–120
    const per = async (/** @type {unknown[]} */ frames) => {
      const rows0 = await server.rowsWritten(room);
      const cpu0 = cpuMs(pids);
      await run(frames);
      const rows = delta(rows0, await server.rowsWritten(room));
      return { rows: rows === undefined ? undefined : round(rows / frames.length, 2), cpu: cpuMs(pids) - cpu0 };
    };
    const chat = await per(targets.map((_, i) => ({ type: "chat", text: `measured ${i}`, id: `m${runId}-${i}` })));
    const edit = await per(targets.map((seq) => ({ type: "edit", seq, text: "edited" })));
    const react = await per(targets.map((seq) => ({ type: "react", seq, emoji: "👍" })));
    const del = await per(targets.map((seq) => ({ type: "delete", seq })));
    ws.close();
    return {
      rowsPerChat: chat.rows,
      rowsPerEdit: edit.rows,
      rowsPerReact: react.rows,
      rowsPerDelete: del.rows,
      cpuMsPerEvent: round((chat.cpu + edit.cpu + react.cpu + del.cpu) / (4 * n), 3),
    };
  },

  // A room of 2,000 members (scaled): what one more join costs, and a
  // message fanned out to everyone.
  async bigroom(server, pids, runId) {
    const room = `bigroom-${runId}`;
    const tally = new Tally();
    const names = Array.from({ length: scaled(2000) }, (_, i) => `b${i}`);
    const clients = await joinAll(server, room, names, tally);
    await sleep(500); // the last joins' presence frames settle
    const cpuJoin0 = cpuMs(pids);
    const t0 = performance.now();
    const newcomer = await joinAs(server.wsUrl(room), "newcomer", (f, now) => tally.record("newcomer", f, now));
    const joinOneMs = newcomer.at - t0;
    await sleep(300);
    const joinOneCpuMs = cpuMs(pids) - cpuJoin0;
    const everyone = [...names, "newcomer"];
    const sender = clients[0]?.ws;
    const first = names[0] ?? "";
    if (!sender) throw new Error("no clients joined");
    const cpu0 = cpuMs(pids);
    const t1 = performance.now();
    const total = 10;
    for (let i = 0; i < total; i++) {
      sender.send(chatFrame(first, i));
      await sleep(100);
    }
    await drain(() => tally.deliveries >= total * everyone.length, 10_000);
    const seconds = (performance.now() - t1) / 1000;
    const cpu = cpuMs(pids) - cpu0;
    for (const c of [...clients, newcomer]) c.ws.close();
    return {
      members: everyone.length,
      joinOneMs: round(joinOneMs),
      joinOneCpuMs: round(joinOneCpuMs),
      ...summary(tally, {
        seconds,
        cpu,
        committed: total,
        rows: undefined,
        lost: tally.lost([{ receivers: everyone, sent: new Map([[first, total]]) }]),
      }),
    };
  },

  async rooms(server, pids, runId) {
    const tally = new Tally();
    const roomCount = scaled(50);
    const perRoom = 8;
    /** @type {Array<{ room: string, names: string[], clients: Array<{ ws: WebSocket }>, sent: Map<string, number> }>} */
    const rooms = [];
    for (let r = 0; r < roomCount; r++) {
      const names = Array.from({ length: perRoom }, (_, i) => `r${r}u${i}`);
      rooms.push({ room: `rooms-${runId}-${r}`, names, clients: [], sent: new Map(names.map((n) => [n, 0])) });
    }
    for (const r of rooms) r.clients = await joinAll(server, r.room, r.names, tally);
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    // Every client 1 msg/s, start times spread over the first second.
    /** @type {Array<ReturnType<typeof setTimeout>>} */
    const timers = [];
    for (const r of rooms) {
      r.clients.forEach((client, i) => {
        const name = r.names[i] ?? "";
        const start = setTimeout(() => {
          const tick = () => {
            const c = r.sent.get(name) ?? 0;
            r.sent.set(name, c + 1);
            client.ws.send(chatFrame(name, c));
          };
          tick();
          timers.push(setInterval(tick, 1000));
        }, Math.random() * 1000);
        timers.push(start);
      });
    }
    await sleep(opts.seconds * 1000);
    for (const t of timers) clearInterval(t);
    const committed = rooms.reduce((a, r) => a + [...r.sent.values()].reduce((x, y) => x + y, 0), 0);
    await drain(() => tally.deliveries >= committed * perRoom);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMs(pids) - cpu0;
    for (const r of rooms) for (const c of r.clients) c.ws.close();
    return summary(tally, {
      seconds,
      cpu,
      committed,
      rows: undefined,
      lost: tally.lost(rooms.map((r) => ({ receivers: r.names, sent: r.sent }))),
    });
  },
};

/**
 * 300 (scaled) clients join a room with 100 messages of history at once.
 * @param {System} server @param {number[]} pids @param {string} runId @param {"HS256" | "RS256" | undefined} signed
 * @returns {Promise<Record<string, number | undefined>>}
 */
async function joinStorm(server, pids, runId, signed) {
  const room = `joinstorm-${runId}`;
  const tally = new Tally();
  // 100 messages of history first, from a poster who then leaves.
  const poster = await joinAs(server.wsUrl(room), "poster");
  for (let i = 0; i < 100; i++) poster.ws.send(chatFrame("poster", i));
  await sleep(300);
  poster.ws.close();
  await sleep(100);
  const n = scaled(300);
  // Tokens are minted before the clock starts: the host site's cost, not the room's.
  const secret = new TextEncoder().encode(AUTH_SECRET);
  const tokens = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      signed
        ? new SignJWT({ sub: `user-${i}`, name: `j${i}` })
            .setProtectedHeader(signed === "HS256" ? { alg: "HS256" } : { alg: "RS256", kid: "bench" })
            .setAudience("edge-chat")
            .setExpirationTime("1h")
            .sign(signed === "HS256" ? secret : RSA.privateKey)
        : Promise.resolve(undefined),
    ),
  );
  const read0 = await server.rowsRead(room);
  const fetches0 = jwksFetches;
  const cpu0 = cpuMs(pids);
  const t0 = performance.now();
  const joins = await Promise.all(
    tokens.map((auth, i) => joinAs(server.wsUrl(room), `j${i}`, () => {}, auth ? { auth } : {})),
  );
  const cpu = cpuMs(pids) - cpu0;
  const read1 = await server.rowsRead(room);
  const times = joins.map((j) => j.at - t0).sort((a, b) => a - b);
  const fullHistory = joins.filter((j) => j.frame.type !== "welcome" || j.frame.historyLength === 100).length;
  for (const j of joins) j.ws.close();
  return {
    joins: n,
    allWelcomedMs: round(times.at(-1)),
    welcomeP50Ms: round(percentile(times, 50)),
    welcomeP99Ms: round(percentile(times, 99)),
    cpuMsPerJoin: round(cpu / n, 3),
    withFullHistory: fullHistory,
    rowsReadPerJoin: read0 === undefined || read1 === undefined ? undefined : round((read1 - read0) / n, 3),
    ...(signed === "RS256" ? { keySetFetches: jwksFetches - fetches0 } : {}),
    lost: n - joins.length,
    duplicated: tally.duplicated,
    outOfOrder: tally.outOfOrder,
  };
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

// Build edge-chat once exactly as deployed, to weigh it, and once with the
// metered room the scenarios run (the same code, plus row counts).
const bundle = readFileSync(buildWorker({ outDir: ".wrangler/bench-prod" }));
EDGE_BUNDLE = buildWorker({ outDir: ".wrangler/bench-build", entry: "bench/metered-worker.ts" });
const bundleGzipKb = round(gzipSync(bundle, { level: 9 }).length / 1024, 1);

/** @typedef {Record<string, number | undefined>} Figures */
/** scenario → system → figures per rep @type {Record<string, Record<string, Figures[]>>} */
const results = {};
const started = Date.now();
/** The systems of this run: --systems, in SYSTEMS' order, or the four that are not experiments. */
const SYSTEM_NAMES = /** @type {SystemName[]} */ (Object.keys(SYSTEMS)).filter((s) =>
  onlySystems ? onlySystems.includes(s) : ["edge-chat", "floor", "floor-physical", "floor-durable"].includes(s),
);
/** The systems edge-chat is divided by. */
const FLOORS = SYSTEM_NAMES.filter((s) => s !== "edge-chat");
for (let rep = 0; rep < opts.reps; rep++) {
  for (const scenario of Object.keys(SCENARIOS).filter((s) => !only || only.includes(s))) {
    // Rotate which system goes first, so none always gets the warmer machine.
    const systems = SYSTEM_NAMES;
    const order = systems.map((_, i) => systems[(i + rep) % systems.length] ?? "edge-chat");
    const run = SCENARIOS[scenario];
    if (!run) continue;
    for (const system of order) {
      const server = await SYSTEMS[system]();
      const pids = childRuntimes();
      const t = performance.now();
      const figures = await run(server, pids, `${rep}-${Date.now().toString(36)}`);
      figures.peakRssMb = round(peakRssMb(pids));
      figures.wallSeconds = round((performance.now() - t) / 1000);
      await server.stop();
      results[scenario] ??= {};
      const bySystem = results[scenario];
      bySystem[system] ??= [];
      bySystem[system].push(figures);
      process.stderr.write(`rep ${rep + 1}/${opts.reps} ${scenario} ${system}: ${JSON.stringify(figures)}\n`);
    }
  }
}

// Medians and ratios.
const median = (/** @type {Array<number | undefined>} */ xs) => {
  const v = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : ((v[m - 1] ?? 0) + (v[m] ?? 0)) / 2;
};
/**
 * scenario → figure → each system's median, and edge-chat's ratio to each floor's
 * @typedef {{ values: Record<string, number | undefined>, ratios: Record<string, number | undefined> }} Row
 * @type {Record<string, Record<string, Row>>}
 */
const table = {};
const ratioOf = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) =>
  typeof a === "number" && typeof b === "number" && b !== 0 ? round(a / b, 2) : undefined;
for (const [scenario, bySystem] of Object.entries(results)) {
  const runsOf = (/** @type {string} */ system) => bySystem[system] ?? [];
  /** @type {Record<string, Row>} */
  const rows = {};
  table[scenario] = rows;
  const keys = new Set(SYSTEM_NAMES.flatMap((system) => Object.keys(runsOf(system)[0] ?? {})));
  for (const key of keys) {
    /** @type {Record<string, number | undefined>} */
    const values = {};
    for (const system of SYSTEM_NAMES) values[system] = round(median(runsOf(system).map((f) => f[key])), 3);
    /** @type {Record<string, number | undefined>} */
    const ratios = {};
    for (const floor of FLOORS) ratios[floor] = ratioOf(values["edge-chat"], values[floor]);
    rows[key] = { values, ratios };
  }
}

const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
const report = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpuModel,
    cores: readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length,
    node: process.version,
  },
  options: opts,
  bundleGzipKb,
  minutes: round((Date.now() - started) / 60000, 1),
  table,
  runs: results,
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/latest.json", `${JSON.stringify(report, null, 2)}\n`);

console.log(
  `\nedge-chat vs the floors: medians of ${opts.reps} interleaved repetitions, ${opts.seconds} s phases, scale ${opts.scale}`,
);
console.log(
  `bundle: ${bundleGzipKb} KB gzipped; machine: ${cpuModel}, ${report.machine.cores} cores, node ${process.version}\n`,
);
const cell = (/** @type {string} */ text) => text.padStart(18);
console.log(`  ${"".padEnd(22)}${SYSTEM_NAMES.map(cell).join("")}${FLOORS.map((f) => cell(`÷ ${f}`)).join("")}`);
for (const [scenario, rows] of Object.entries(table)) {
  console.log(scenario);
  for (const [key, { values, ratios }] of Object.entries(rows)) {
    if (Object.values(values).every((v) => v === undefined)) continue;
    const shown = (/** @type {number | undefined} */ v, /** @type {string} */ unit = "") =>
      cell(v === undefined ? "" : `${v}${unit}`);
    console.log(
      `  ${key.padEnd(22)}${SYSTEM_NAMES.map((s) => shown(values[s])).join("")}${FLOORS.map((f) => shown(ratios[f], "×")).join("")}`,
    );
  }
}
console.log("\n(edge-chat ÷ each floor, medians; full data in bench/results/latest.json)");

// Correctness, not speed: a lost, duplicated or out-of-order delivery is a bug.
const broken = Object.entries(results).flatMap(([scenario, bySystem]) =>
  Object.entries(bySystem).flatMap(([system, runs]) =>
    runs
      .filter((/** @type {Figures} */ f) => f.lost || f.duplicated || f.outOfOrder)
      .map(() => `${scenario}/${system}`),
  ),
);
if (broken.length > 0) {
  console.error(`lost, duplicated or out-of-order deliveries in: ${broken.join(", ")}`);
  process.exit(1);
}
