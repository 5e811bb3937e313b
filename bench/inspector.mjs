// workerd's V8 inspector (the DevTools protocol), as bench/profile.mjs and
// bench/archive.mjs use it: the user worker's target, and calls that
// resolve with their results. The runtime must be started with
// `inspectorPort`.
import WebSocket from "ws";

/**
 * @typedef {{ title?: string, webSocketDebuggerUrl: string }} Target
 * @typedef {{
 *   call: (method: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>>,
 *   collectGarbage: () => Promise<void>,
 *   close: () => void,
 * }} Inspector
 */

/** Connects to the worker's isolate. @param {number} port @returns {Promise<Inspector>} */
export async function connectInspector(port) {
  /** @type {Target[]} */
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.title?.includes("core:user")) ?? targets[0];
  if (!target) throw new Error("workerd's inspector lists no target");
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => socket.once("open", resolve));
  let nextId = 1;
  /** @type {Map<number, (result: Record<string, unknown>) => void>} */
  const pending = new Map();
  socket.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    pending.get(msg.id)?.(msg.result);
  });
  /** @type {Inspector["call"]} */
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    // workerd never answers HeapProfiler.collectGarbage, but V8 collects
    // all garbage before it takes a heap snapshot; the snapshot's chunks
    // (events, without an id) are dropped unread.
    collectGarbage: async () => {
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    },
    close: () => socket.close(),
  };
}
