/**
 * What a room tells a user's object (§10.3), over RPC: that the user joined
 * the room (its activity, and a room to list), and that a chat mentions
 * them (the `mention` their `/me` sockets get). The room sends at most one
 * note per message and user.
 */
export type UserNote =
  | { kind: "joined"; room: string; ts: number }
  | {
      kind: "mention";
      room: string;
      seq: number;
      /** Who wrote it. */
      name: string;
      user?: string;
      text: string;
      ts: number;
    };

/** §10.3: a room's counts for one user, as the room answers the user's object. */
export interface RoomReadState {
  /** The room's latest event seq. */
  seq: number;
  lastRead: number;
  unread: number;
  mentions: number;
  /** When the room's latest retained message was sent; null when it has none. */
  ts: number | null;
  /** When the user last joined the room or moved their cursor (their activity in it); 0 if never. */
  active: number;
}
