/**
 * <edge-chat-room>: the chat as a custom element for other sites' pages,
 * served by the chat itself at /embed.js (scripts/build-client.mjs builds
 * it). A host page adds
 *
 *   <script type="module" src="https://chat.example/embed.js"></script>
 *   <edge-chat-room room="lobby"></edge-chat-room>
 *
 * It is the page's own chat (chat.ts, with the same markup and stylesheet)
 * in an open shadow root, so the host's CSS cannot reach inside and the
 * chat's cannot leak out. Attributes, read when the element is put on the
 * page: `room` (fixed by the host; without it the visitor picks one),
 * `server` (the chat's origin; default: where embed.js came from),
 * `token-endpoint` (a URL on the host site answering {"token": …}, fetched
 * with the visitor's cookies), `theme` (light, dark, or auto, the default).
 */
import { type Chat, mountChat } from "./chat";

// Put in by the build: the chat's part of public/index.html, and public/style.css.
declare const __CHAT_MARKUP__: string;
declare const __CHAT_STYLE__: string;

/** One parsed stylesheet, shared by every element on the page. */
let sheet: CSSStyleSheet | undefined;

export class EdgeChatRoom extends HTMLElement {
  #chat: Chat | undefined;

  connectedCallback(): void {
    if (this.#chat) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(__CHAT_STYLE__);
    }
    root.adoptedStyleSheets = [sheet];
    // The markup is the build's own constant, never anything a visitor typed.
    root.innerHTML = `<div class="edge-chat">${__CHAT_MARKUP__}</div>`;
    const box = root.firstElementChild;
    if (!(box instanceof HTMLElement)) throw new Error("edge-chat-room: the chat's markup did not load");
    const tokenEndpoint = this.getAttribute("token-endpoint");
    const room = this.getAttribute("room");
    this.#chat = mountChat({
      tree: root,
      server: new URL(this.getAttribute("server") ?? import.meta.url, document.baseURI).origin,
      scroller: () => box,
      scrollEvents: box,
      // Relative to the host page: the endpoint is the host site's.
      tokenEndpoint: tokenEndpoint === null ? undefined : new URL(tokenEndpoint, document.baseURI).href,
      fixedRoom: room === null || room === "" ? undefined : room,
    });
  }

  /** Taken off the page: leave the room cleanly (the name is free at once, §5.4) and draw nothing. */
  disconnectedCallback(): void {
    this.#chat?.close();
    this.#chat = undefined;
    this.shadowRoot?.replaceChildren();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "edge-chat-room": EdgeChatRoom;
  }
}

if (!customElements.get("edge-chat-room")) customElements.define("edge-chat-room", EdgeChatRoom);
