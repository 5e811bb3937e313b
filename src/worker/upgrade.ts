/**
 * The answer that hands a WebSocket to its client (101), as the room and
 * the /me gate send it: without compression.
 *
 * Browsers offer permessage-deflate on every socket, and the runtime accepts
 * it unless the response names the extensions itself (workerd's
 * api/http.c++, MANUAL_COMPRESSION: a response's own
 * Sec-WebSocket-Extensions is what the runtime negotiates against, and one
 * that names nothing it knows agrees to none; that header is the
 * handshake's own and never reaches the wire as written). Declined, because:
 * - Every socket compresses every frame on its own (its own zlib stream),
 *   so a broadcast serialized once is still deflated once per member: half
 *   the CPU per delivery of a 500-member room on this machine
 *   (docs/benchmarks.md, "WebSocket compression").
 * - Each compressed socket keeps about 200 KB of zlib state for its life:
 *   1 GB for a room of 5,000.
 * - Chat frames are a few hundred bytes; the larger ones (welcomes, pages)
 *   are bounded by the protocol's byte caps.
 */
const NO_EXTENSIONS = { "Sec-WebSocket-Extensions": "none" };

export function switchingProtocols(client: WebSocket): Response {
  return new Response(null, { status: 101, webSocket: client, headers: NO_EXTENSIONS });
}
