/**
 * The edge-chat page (public/index.html): the chat drawn into the document,
 * scrolling with it, with the room in the address (`/#lobby` shares a
 * room). wrangler's [build] bundles this, with the parts in src/client/ and
 * the protocol's rules from src/shared/, into public/app.js; embed.ts is the
 * same chat inside an <edge-chat-room> on someone else's page.
 */
import { mountChat } from "./chat";

const chat = mountChat({
  tree: document,
  server: location.origin,
  scroller: () => document.scrollingElement ?? document.documentElement,
  scrollEvents: window,
  entered: (room) => history.replaceState(null, "", `#${room}`),
});

function roomFromHash(): void {
  // A malformed escape (`#%E0%A4%A`) must not stop the page from starting:
  // decodeURIComponent throws on it, so the raw text is used instead.
  const raw = location.hash.slice(1);
  let room = raw;
  try {
    room = decodeURIComponent(raw);
  } catch {
    // Not valid percent-encoding: keep it as typed; the join form checks it.
  }
  if (room) chat.lobby.suggest(room);
}

roomFromHash();
window.addEventListener("hashchange", roomFromHash);
