/**
 * Which rooms an identity token admits (protocol §5.1, §5.2), as pure
 * functions the room and the Worker's read routes share.
 */

/** Rooms whose names start with this are private: joined and read only with a token that covers them. */
export const PRIVATE_PREFIX = "private-";

export function isPrivateRoom(room: string): boolean {
  return room.startsWith(PRIVATE_PREFIX);
}

/** Whether one `rooms` pattern (an exact name, or a prefix ending in `*`) matches the room. */
export function matches(pattern: string, room: string): boolean {
  return pattern.endsWith("*") ? room.startsWith(pattern.slice(0, -1)) : pattern === room;
}

/**
 * Whether a token with this `rooms` claim admits the room. Without the
 * claim every room but the private ones is admitted; a private room needs
 * an entry that covers it, whatever ACCESS says.
 */
export function admits(rooms: readonly string[] | undefined, room: string): boolean {
  if (rooms === undefined) return !isPrivateRoom(room);
  return rooms.some((pattern) => matches(pattern, room));
}
