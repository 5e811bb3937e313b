/**
 * Mentions (protocol §10.2) as rules both sides share: which `@name` in a
 * text mentions whom. The room computes a chat's `mentions` with
 * `findMentions` over the names it knows; the page finds the same spans to
 * highlight them with `mentionSpans`. One definition, so what the page
 * highlights is what the room counted.
 */
import type { MemberEntry } from "./server-frames";

/** §10.2: a message mentions at most this many users. */
export const MAX_MENTIONS = 20;

/** §10.2: names are compared without regard to case. */
export function foldName(name: string): string {
  return name.toLowerCase();
}

/** What ends a name: the end of the text, or a character that is not a letter or digit. */
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

/** A name someone holds, by its folded form; a verified user's also by `user`. */
export type NameLookup = (folded: string) => MemberEntry | undefined;

/**
 * The users a text mentions (§10.2), each once (a verified user by `user`,
 * a guest by name), in order of first appearance, at most MAX_MENTIONS.
 * At each `@` the longest name that follows it and ends at a boundary wins;
 * `maxNameChars` bounds how far a name can reach, so the work per `@` is
 * at most that many lookups.
 */
export function findMentions(text: string, lookup: NameLookup, maxNameChars: number): MemberEntry[] {
  const found: MemberEntry[] = [];
  const seen = new Set<string>();
  for (const { who } of scan(text, lookup, maxNameChars)) {
    const id = who.user === undefined ? `n:${foldName(who.name)}` : `u:${who.user}`;
    if (seen.has(id)) continue;
    seen.add(id);
    found.push(who.user === undefined ? { name: who.name } : { name: who.name, user: who.user });
    if (found.length >= MAX_MENTIONS) break;
  }
  return found;
}

/**
 * Where `@name` of each mentioned user appears in a text: [start, end) in
 * UTF-16 units, `@` included, for the page to highlight. A name matches
 * by the same rule as `findMentions`.
 */
export function mentionSpans(
  text: string,
  mentions: readonly MemberEntry[],
  maxNameChars: number,
): Array<{ start: number; end: number; who: MemberEntry }> {
  if (mentions.length === 0) return [];
  const names = new Map(mentions.map((m) => [foldName(m.name), m]));
  return Array.from(scan(text, (folded) => names.get(folded), maxNameChars));
}

function* scan(
  text: string,
  lookup: NameLookup,
  maxNameChars: number,
): Generator<{ start: number; end: number; who: MemberEntry }> {
  let at = text.indexOf("@");
  while (at >= 0) {
    // One code point past the longest name, to see what follows it.
    const after = Array.from(text.slice(at + 1, at + 1 + 2 * (maxNameChars + 1))).slice(0, maxNameChars + 1);
    let next = at + 1;
    for (let length = Math.min(maxNameChars, after.length); length > 0; length--) {
      const following = after[length];
      if (following !== undefined && LETTER_OR_DIGIT.test(following)) continue;
      const name = after.slice(0, length).join("");
      const who = lookup(foldName(name));
      if (who) {
        next = at + 1 + name.length;
        yield { start: at, end: next, who };
        break;
      }
    }
    at = text.indexOf("@", next);
  }
}
