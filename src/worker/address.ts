/**
 * The client address the per-address limits of protocol §2.4 count by.
 *
 * Cloudflare sets `CF-Connecting-IP` on every request that reaches the
 * Worker, overwriting whatever the client sent under that name. The Worker
 * forwards a socket's upgrade to its object as it came (`stub.fetch` of the
 * raw request: no copy of the request and its headers per upgrade), so the
 * object reads the same header the Worker would, and only the Worker can
 * reach an object.
 */
const ADDRESS_HEADER = "CF-Connecting-IP";

/** What a room counts under when no address was passed (in-runtime tests call rooms directly). */
export const UNKNOWN_ADDRESS = "unknown";

/** The address key of the client that sent this request (in the Worker, or in the object it was forwarded to). */
export function requestAddress(request: Request): string {
  return addressKey(request.headers.get(ADDRESS_HEADER) ?? undefined);
}

/**
 * The key a client is limited by. An IPv4 address is one key. IPv6 is
 * grouped by its /64 prefix: one subscriber line or host usually holds a
 * whole /64, so counting single IPv6 addresses would hand one person 2^64
 * budgets.
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return UNKNOWN_ADDRESS;
  if (!ip.includes(":")) return ip;
  // An IPv4 client seen through IPv6 (::ffff:a.b.c.d) is that IPv4 client.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)?.[1];
  if (mapped) return mapped;
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : ip;
}

/** The eight hextets of an IPv6 address (lower case, no leading zeros), or undefined if it is not one. */
function expandIpv6(ip: string): string[] | undefined {
  const halves = ip.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two hextets.
  const last = tail.at(-1) ?? head.at(-1);
  const extra = last?.includes(".") ? 1 : 0;
  const missing = 8 - head.length - tail.length - extra;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.slice(0, 4).every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? g.replace(/^0+(?=.)/, "") : g));
}
