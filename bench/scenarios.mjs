// npm run bench's scenarios (bench/run.mjs runs each against every system).
// Each returns its figures; CPU covers the measured phase only.
import { SignJWT } from "jose";
import WebSocket from "ws";
import { percentile } from "../scripts/lib/stats.mjs";
import { scaled } from "./args.mjs";
import { chatFrame, cpuMs, drain, joinAll, joinAs, round, sleep, summary, Tally } from "./load.mjs";
import { AUTH_SECRET, delta, jwksFetchCount, RSA } from "./systems.mjs";

/**
 * What a scenario gets: a running system, its workerd pids, a run id for room names.
 * @typedef {Awaited<ReturnType<typeof import("./systems.mjs").SYSTEMS["edge-chat"]>> | Awaited<ReturnType<typeof import("./systems.mjs").SYSTEMS["floor"]>>} System
 * @typedef {(server: System, pids: number[], runId: string, phaseSeconds: number) => Promise<Record<string, number | undefined>>} Scenario
 */

/**
 * The scenarios with a load phase of `phaseSeconds` (--seconds): the ones a
 * warm-up (--warmup) runs first, unmeasured, on the same runtime.
 */
export const PHASED = new Set(["fanout", "throughput", "mixed", "rooms"]);

/** @type {Record<string, Scenario>} */
export const SCENARIOS = {
  async fanout(server, pids, runId, phaseSeconds) {
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
    const total = 50 * phaseSeconds;
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

  async throughput(server, pids, runId, phaseSeconds) {
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
    const commits0 = await server.commits(room);
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    for (const [i, c] of clients.entries()) c.ws.send(chatFrame(names[i] ?? "", 0));
    await sleep(phaseSeconds * 1000);
    running = false;
    const seconds = (performance.now() - t0) / 1000;
    // Messages sent = counters 0..sent[name] for each client.
    const sentCounts = new Map([...sent].map(([n, c]) => [n, c + 1]));
    const expected = [...sentCounts.values()].reduce((a, b) => a + b, 0) * names.length;
    await drain(() => tally.deliveries >= expected);
    const cpu = cpuMs(pids) - cpu0;
    const committed = [...sent.values()].reduce((a, b) => a + b, 0);
    const rows = delta(rows0, await server.rowsWritten(room));
    const commits = delta(commits0, await server.commits(room));
    for (const c of clients) c.ws.close();
    return {
      ...summary(tally, {
        seconds,
        cpu,
        committed,
        rows,
        lost: tally.lost([{ receivers: names, sent: sentCounts }]),
      }),
      // Group commit: chats per transaction (1 where every chat is its own).
      chatsPerCommit: commits === undefined || commits === 0 ? undefined : round(committed / commits, 2),
    };
  },

  // Protocol §7 on the hot path: 20 closed-loop clients, each cycling
  // chat → edit of that chat → reaction to it, the next frame sent when the
  // last one's broadcast is back. Every event reaches all 20. The floor
  // relays the frames as they are (a made-up target, since it numbers
  // nothing), so the ratio is what storing and encoding the events costs.
  async mixed(server, pids, runId, phaseSeconds) {
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
    await sleep(phaseSeconds * 1000);
    running = false;
    const seconds = (performance.now() - t0) / 1000;
    await drain(() => tally.deliveries >= events * names.length);
    const cpu = cpuMs(pids) - cpu0;
    const rows = delta(rows0, await server.rowsWritten(room));
    for (const c of clients) c.ws.close();
    return summary(tally, { seconds, cpu, committed: events, rows, lost: events * names.length - tally.deliveries });
  },

  joinstorm: (server, pids, runId) => joinStorm(server, pids, runId, undefined),

  // The same storm of version-3 clients (protocol §9): presence in batches,
  // and counts once the room is past ROSTER_LIMIT.
  "joinstorm-v3": (server, pids, runId) => joinStorm(server, pids, runId, undefined, { protocol: 3 }),

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
    const fanout = await tenToEveryone(clients, names, everyone, tally, pids);
    for (const c of [...clients, newcomer]) c.ws.close();
    return { members: everyone.length, joinOneMs: round(joinOneMs), joinOneCpuMs: round(joinOneCpuMs), ...fanout };
  },

  // Protocol §9.3: a room of 5,000 version-3 members (scaled). What filling
  // it costs, what one more join costs (CPU, and the welcome's bytes with an
  // empty history), and a message fanned out to everyone.
  async "bigroom-v3"(server, pids, runId) {
    const room = `bigroom3-${runId}`;
    const tally = new Tally();
    const v3 = { protocol: 3 };
    const names = Array.from({ length: scaled(5000) }, (_, i) => `b${i}`);
    const cpuFill0 = cpuMs(pids);
    const clients = await joinAll(server, room, names, tally, v3);
    const fillCpuMs = cpuMs(pids) - cpuFill0;
    // The last occupancy batch (OCCUPANCY_INTERVAL_MS) goes out before the join is measured.
    await sleep(2500);
    // One more join, 20 times over, one after another: /proc's CPU clock
    // ticks in 10 ms, so one join alone would read 0 or 10. They all fall
    // before the count they change goes out (PRESENCE_BATCH_MS after the
    // first, from the alarm), which is measured on its own after them.
    const more = Array.from({ length: 20 }, (_, i) => `newcomer${i}`);
    /** @type {import("./load.mjs").Joined[]} */
    const newcomers = [];
    const waits = [];
    const cpuJoin0 = cpuMs(pids);
    for (const name of more) {
      const t0 = performance.now();
      const joined = await joinAs(server.wsUrl(room), name, (f, now) => tally.record(name, f, now), v3);
      waits.push(joined.at - t0);
      newcomers.push(joined);
    }
    const joinOneCpuMs = (cpuMs(pids) - cpuJoin0) / more.length;
    const cpuBatch0 = cpuMs(pids);
    await sleep(2500);
    const occupancyBatchCpuMs = cpuMs(pids) - cpuBatch0;
    const everyone = [...names, ...more];
    const fanout = await tenToEveryone(clients, names, everyone, tally, pids);
    for (const c of [...clients, ...newcomers]) c.ws.close();
    return {
      members: everyone.length,
      fillCpuMs: round(fillCpuMs),
      joinOneMs: round(
        percentile(
          waits.sort((a, b) => a - b),
          50,
        ),
      ),
      joinOneCpuMs: round(joinOneCpuMs, 2),
      occupancyBatchCpuMs: round(occupancyBatchCpuMs),
      welcomeBytes: newcomers[0]?.bytes,
      ...fanout,
    };
  },

  async rooms(server, pids, runId, phaseSeconds) {
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
    await sleep(phaseSeconds * 1000);
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
 * A big room's fanout: the first member sends 10 messages, one per 100 ms,
 * and everyone (`everyone`) must receive each.
 * @param {import("./load.mjs").Joined[]} clients @param {string[]} names @param {string[]} everyone
 * @param {Tally} tally @param {number[]} pids
 */
async function tenToEveryone(clients, names, everyone, tally, pids) {
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
  await drain(() => tally.deliveries >= total * everyone.length, 20_000);
  const seconds = (performance.now() - t1) / 1000;
  const cpu = cpuMs(pids) - cpu0;
  return summary(tally, {
    seconds,
    cpu,
    committed: total,
    rows: undefined,
    lost: tally.lost([{ receivers: everyone, sent: new Map([[first, total]]) }]),
  });
}

/**
 * 300 (scaled) clients join a room with 100 messages of history at once.
 * @param {System} server @param {number[]} pids @param {string} runId @param {"HS256" | "RS256" | undefined} signed
 * @param {Record<string, unknown>} [extra] more fields of every join (`protocol: 3`)
 * @returns {Promise<Record<string, number | undefined>>}
 */
async function joinStorm(server, pids, runId, signed, extra = {}) {
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
  const fetches0 = jwksFetchCount();
  const cpu0 = cpuMs(pids);
  const t0 = performance.now();
  const joins = await Promise.all(
    tokens.map((auth, i) => joinAs(server.wsUrl(room), `j${i}`, () => {}, auth ? { auth, ...extra } : extra)),
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
    ...(signed === "RS256" ? { keySetFetches: jwksFetchCount() - fetches0 } : {}),
    lost: n - joins.length,
    duplicated: tally.duplicated,
    outOfOrder: tally.outOfOrder,
  };
}
