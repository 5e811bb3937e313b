// The floor: the least a hibernating chat room can do. It accepts sockets
// with the Hibernation API and sends every text frame it receives, as is, to
// every socket in the room, the sender included. No parsing, no names, no
// storage, no rate limit. Its sockets are kept in a Set rebuilt on wake-up,
// the cheapest correct way to find them. The benchmark runs it next to
// edge-chat on the same workerd and reports edge-chat's figures as ratios.
import { DurableObject } from "cloudflare:workers";

export class FloorRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sockets = new Set(ctx.getWebSockets());
  }

  fetch() {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.sockets.add(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(_ws, message) {
    for (const socket of this.sockets) {
      try {
        socket.send(message);
      } catch {
        this.sockets.delete(socket);
      }
    }
  }

  webSocketClose(ws, code) {
    this.sockets.delete(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code);
    } catch {}
  }

  webSocketError(ws) {
    this.sockets.delete(ws);
  }
}

export default {
  fetch(request, env) {
    const room = new URL(request.url).pathname.split("/")[2] ?? "";
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },
};
