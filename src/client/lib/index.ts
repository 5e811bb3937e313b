/**
 * `edge-chat/client`: import { ChatClient } from "edge-chat/client".
 * Built into dist/ by `npm run build` (scripts/build-lib.mjs); the frame
 * types are the wire module's own.
 */

export type { PresenceFrame } from "../../shared/presence";
export type {
  ChatFrame,
  FileInfo,
  MemberEntry,
  ServerFrame,
  ServerFrameOf,
  UpdateFrame,
  WelcomeFrame,
} from "../../shared/server-frames";
export type { State } from "../connection-types";
export { UploadError } from "../uploads";
export { ChatClient, type ChatClientOptions, ChatError, type ClientEvents } from "./chat-client";
