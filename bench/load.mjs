// The benchmark's load generator: clients that join and count every
// delivery (lost, duplicated, out of order, latency), and the /proc readings
// of the runtime's CPU and memory. One code path for edge-chat and the floor.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import WebSocket from "ws";
import { percentile } from "../scripts/lib/stats.mjs";

const CLK_TCK = 100;

/**
 * A frame as the load generator reads it: edge-chat's welcome and chat
 * frames, or the floor's echo of a join. Only these fields are used.
 * @typedef {{ type: string, name?: string, text?: string, seq?: number, historyLength?: number }} Frame
 * @typedef {{ ws: WebSocket, frame: Frame, at: number, bytes: number }} Joined
 * @typedef {{ receivers: string[], sent: Map<string, number> }} RoomLoad
 * @typedef {{ wsUrl(room: string): string }} Target
 */

/** @param {string} data @returns {Frame} */
function parseFrame(data) {
  /** @type {unknown} */
  const value = JSON.parse(data);
  if (typeof value !== "object" || value === null || !("type" in value) || typeof value.type !== "string") {
    return { type: "unknown" };
  }
  return {
    type: value.type,
    ...("name" in value && typeof value.name === "string" ? { name: value.name } : {}),
    ...("text" in value && typeof value.text === "string" ? { text: value.text } : {}),
    ...("seq" in value && typeof value.seq === "number" ? { seq: value.seq } : {}),
    ...("history" in value && Array.isArray(value.history) ? { historyLength: value.history.length } : {}),
  };
}

// ---------------------------------------------------------------------------
// /proc: the workerd process that Miniflare started for this run
// ---------------------------------------------------------------------------

/** Each process's threads' last readings (ns); a thread that has ended keeps its last one, so a sum never goes back. */
const threadNs = new Map();

/**
 * CPU time (ms) of the given processes: the sum over their threads of
 * /proc/<pid>/task/<tid>/schedstat's first field, the scheduler's own count
 * of each thread's time on a CPU, in nanoseconds. The user + system times of
 * /proc/<pid>/stat count clock ticks, 10 ms each here, so a join storm of
 * 300 that costs the floor about 150 ms read in steps of a fifteenth.
 * workerd starts its threads with the process (none started or ended during
 * a phase when watched); one that ends keeps its last reading. Without
 * schedstat (a kernel built without it) the ticks are read instead.
 * @param {number[]} pids
 */
export function cpuMs(pids) {
  let ms = 0;
  for (const pid of pids) {
    if (!existsSync(`/proc/${pid}/schedstat`)) {
      ms += ticksMs(pid);
      continue;
    }
    let threads = threadNs.get(pid);
    if (!threads) {
      threads = new Map();
      threadNs.set(pid, threads);
    }
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]));
      } catch {
        // Ended between the listing and the read: its last reading stands.
      }
    }
    for (const ns of threads.values()) ms += ns / 1e6;
  }
  return ms;
}

/** User + system time (ms) of a process, in clock ticks. @param {number} pid */
export function ticksMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Peak resident memory (MB) of the given processes. @param {number[]} pids */
export function peakRssMb(pids) {
  let kb = 0;
  for (const pid of pids) {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    kb += Number(m?.[1] ?? 0);
  }
  return kb / 1024;
}

// ---------------------------------------------------------------------------
// Clients: one code path for both systems. edge-chat answers join with a
// welcome and chats with chat frames; the floor sends every frame back to
// everyone, so a client's own join coming back is its "welcome".
// ---------------------------------------------------------------------------

export class Tally {
  /** @type {number[]} */
  latencies = [];
  deliveries = 0;
  duplicated = 0;
  outOfOrder = 0;
  /** receiver → sender → counters seen @type {Map<string, Map<string, { set: Set<number>, max: number }>>} */
  seen = new Map();
  /** receiver → last seq seen (edge-chat only) @type {Map<string, number>} */
  lastSeq = new Map();

  /** @param {string} receiver @param {Frame} frame @param {number} now */
  record(receiver, frame, now) {
    const [sender = "", counterText, sentText] = (frame.text ?? "").split("|");
    const counter = Number(counterText);
    this.deliveries++;
    this.latencies.push(now - Number(sentText));
    let bySender = this.seen.get(receiver);
    if (!bySender) {
      bySender = new Map();
      this.seen.set(receiver, bySender);
    }
    let counters = bySender.get(sender);
    if (!counters) {
      counters = { set: new Set(), max: -1 };
      bySender.set(sender, counters);
    }
    if (counters.set.has(counter)) this.duplicated++;
    else if (counter < counters.max) this.outOfOrder++;
    counters.set.add(counter);
    counters.max = Math.max(counters.max, counter);
    if (frame.seq !== undefined) {
      const last = this.lastSeq.get(receiver) ?? 0;
      if (frame.seq <= last) this.outOfOrder++;
      this.lastSeq.set(receiver, frame.seq);
    }
  }

  /** Deliveries that should have happened and did not: every receiver gets every message of its room. @param {RoomLoad[]} rooms */
  lost(rooms) {
    let lost = 0;
    for (const { receivers, sent } of rooms) {
      for (const receiver of receivers) {
        const bySender = this.seen.get(receiver);
        for (const [sender, count] of sent) {
          lost += count - (bySender?.get(sender)?.set.size ?? 0);
        }
      }
    }
    return lost;
  }
}

/** @param {string} url @returns {Promise<WebSocket>} */
export function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/**
 * Opens a socket, joins as `name`, and routes chat frames to `onChat`.
 * Resolves with the welcome (edge-chat) or the echoed join (floor) and the
 * time it arrived.
 * `extra` goes into the join frame (an identity token: `{ auth }`).
 * @param {string} url @param {string} name @param {(frame: Frame, now: number) => void} [onChat]
 * @param {Record<string, unknown>} [extra]
 * @returns {Promise<Joined>}
 */
export async function joinAs(url, name, onChat, extra = {}) {
  const ws = await connect(url);
  return new Promise((resolve) => {
    ws.on("message", (data) => {
      const now = performance.now();
      const frame = parseFrame(data.toString());
      if (frame.type === "chat") onChat?.(frame, now);
      else if (frame.type === "welcome" || (frame.type === "join" && frame.name === name))
        resolve({ ws, frame, at: now, bytes: Buffer.byteLength(data.toString()) });
    });
    ws.send(JSON.stringify({ type: "join", name, ...extra }));
  });
}

let messageCounter = 0;
/** @param {string} sender @param {number} counter */
export function chatFrame(sender, counter) {
  const text = `${sender}|${counter}|${performance.now().toFixed(3)}|${"x".repeat(32)}`;
  return JSON.stringify({ type: "chat", text, id: `${sender}-${counter}-${messageCounter++}` });
}

export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {Target} server @param {string} room @param {string[]} names @param {Tally} tally
 * @param {Record<string, unknown>} [extra] more fields of every join (`protocol: 3`)
 */
export async function joinAll(server, room, names, tally, extra = {}) {
  /** @type {Joined[]} */
  const clients = [];
  for (let i = 0; i < names.length; i += 25) {
    const batch = names.slice(i, i + 25);
    clients.push(
      ...(await Promise.all(
        batch.map((name) => joinAs(server.wsUrl(room), name, (f, now) => tally.record(name, f, now), extra)),
      )),
    );
  }
  return clients;
}

/** Waits until `done()` or `ms` passed. @param {() => boolean} done */
export async function drain(done, ms = 5000) {
  const until = performance.now() + ms;
  while (!done() && performance.now() < until) await sleep(20);
}

/**
 * @param {Tally} tally
 * @param {{ seconds: number, cpu: number, committed: number, rows?: number | undefined, lost: number }} figures
 */
export function summary(tally, { seconds, cpu, committed, rows, lost }) {
  const sorted = tally.latencies.sort((a, b) => a - b);
  return {
    latencyP50Ms: round(percentile(sorted, 50)),
    latencyP95Ms: round(percentile(sorted, 95)),
    latencyP99Ms: round(percentile(sorted, 99)),
    latencyMaxMs: round(sorted.at(-1)),
    deliveriesPerSec: Math.round(tally.deliveries / seconds),
    committedPerSec: round(committed / seconds),
    cpuMsPer1kDeliveries: round((cpu / Math.max(1, tally.deliveries)) * 1000),
    rowsPerMessage: rows === undefined ? undefined : round(rows / Math.max(1, committed), 3),
    lost,
    duplicated: tally.duplicated,
    outOfOrder: tally.outOfOrder,
  };
}

/**
 * Rounds to `digits` places; undefined and non-finite numbers pass through.
 * @overload
 * @param {number} n
 * @param {number} [digits]
 * @returns {number}
 */
/**
 * @overload
 * @param {number | undefined} n
 * @param {number} [digits]
 * @returns {number | undefined}
 */
/** @param {number | undefined} n @param {number} [digits] */
export function round(n, digits = 1) {
  if (n === undefined || !Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
