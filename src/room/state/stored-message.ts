/**
 * A stored message's frame as the history reads and rewrites it: its
 * fields through the protocol's schema, its reaction summary made from who
 * reacted (§7.3), its search words (§8.3), and the form of rows written by
 * older layouts. Pure functions over the stored text; state/history.ts
 * keeps the rows.
 */
import * as v from "valibot";
import { REACTION_NAMES } from "../../shared/protocol";
import { searchWords } from "../../shared/search";
import { encodeChat, type Reactions, type StoredChat, StoredChatSchema } from "../../shared/server-frames";
import type { MessageRow } from "../storage/stores";

/** What the search index holds for a message: its words, or null for a tombstone. */
export function indexWords(message: Pick<StoredChat, "text" | "deleted">): string | null {
  return message.deleted ? null : searchWords(message.text).join(" ");
}

/**
 * §7.3: per emoji the count and the first REACTION_NAMES names, in reaction
 * order; undefined when nobody reacted.
 */
export function summarize(
  reactors: ReadonlyMap<string, ReadonlyArray<readonly [string, string]>>,
): Reactions | undefined {
  const entries = [...reactors].filter(([, who]) => who.length > 0);
  if (entries.length === 0) return undefined;
  // fromEntries defines own properties: an emoji `__proto__` stays a key, not the prototype.
  return Object.fromEntries(
    entries.map(([emoji, who]) => [
      emoji,
      { count: who.length, names: who.slice(0, REACTION_NAMES).map(([, name]) => name) },
    ]),
  );
}

export function isDeleted(frame: string): boolean {
  // Encoders write `"deleted":true` only on tombstones, and a text cannot
  // hold it unescaped; cheaper than parsing the frame.
  return frame.includes('"deleted":true');
}

export function hasFiles(frame: string): boolean {
  // As for `deleted`: only the encoder writes this unescaped.
  return frame.includes('"files":[');
}

/** The fields of a stored chat frame (our own encoding, read back through the protocol's schema). */
export function parseStored(frame: string, version?: number): StoredChat {
  const json: unknown = JSON.parse(frame);
  // Frames stored before §7 have no `v`: theirs is their seq.
  const numbered = version !== undefined && typeof json === "object" && json !== null ? { v: version, ...json } : json;
  const { type: _type, ...fields } = v.parse(StoredChatSchema, numbered);
  return fields;
}

/** A row of an older layout, in this one's form: a frame from before §7 (no `v`) gets the row's, which is its seq. */
export function withVersion(row: MessageRow): MessageRow {
  const message = parseStored(row.frame, row.v);
  return { ...row, v: message.v, frame: encodeChat(message) };
}
