/**
 * Search (protocol §8.3): the box in the room bar, the list of results with
 * sender, time and the matched words marked, and "Older results". The words
 * are marked by the protocol's own rule (src/shared/search.ts), each piece
 * set as text: a result is never HTML. Choosing a result shows it in its
 * conversation (archive.ts).
 */
import { highlights, parseQuery } from "../shared/search";
import type { ChatFrame, ServerFrameOf } from "../shared/server-frames";
import type { Archive } from "./archive";
import type { ChatConnection } from "./connection";
import { bdi } from "./dom";
import type { View } from "./view";

export interface Search {
  answered(frame: ServerFrameOf<"search">): void;
  failed(message: string): void;
  close(): void;
}

export function mountSearch({ ui }: View, connection: () => ChatConnection | undefined, archive: Archive): Search {
  /** The query in flight, and whether it continues the list shown. */
  let asked: { q: string; more: boolean } | undefined;
  let words: string[] = [];
  let oldest: number | undefined;

  const status = (text: string) => {
    ui.searchStatus.textContent = text;
  };

  const run = (q: string, before?: number) => {
    const query = parseQuery(q);
    ui.results.hidden = false;
    if (!query.ok) return status(query.message);
    if (asked || !connection()?.read({ type: "search", q, ...(before === undefined ? {} : { before }) })) {
      return status("Not connected; search again in a moment.");
    }
    asked = { q, more: before !== undefined };
    words = query.words;
    status("Searching…");
  };

  ui.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    run(ui.search.value.trim());
  });
  ui.resultsMore.addEventListener("click", () => run(ui.search.value.trim(), oldest));
  const close = () => {
    ui.results.hidden = true;
    ui.resultList.replaceChildren();
    status("");
  };
  ui.resultsClose.addEventListener("click", () => {
    close();
    ui.search.focus();
  });
  ui.search.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });

  return {
    answered(frame) {
      const more = asked?.more ?? false;
      asked = undefined;
      const items = frame.results.map((chat) =>
        resultItem(chat, words, () => {
          // The panel would cover the message it leads to; the query stays in the box.
          close();
          archive.showInContext(chat.seq);
        }),
      );
      if (more) ui.resultList.append(...items);
      else ui.resultList.replaceChildren(...items);
      oldest = frame.results.at(-1)?.seq ?? oldest;
      ui.resultsMore.hidden = !frame.more;
      const count = ui.resultList.childElementCount;
      status(count === 0 ? "No messages found." : `${count}${frame.more ? "+" : ""} found, newest first.`);
    },
    failed(message) {
      if (!asked) return;
      asked = undefined;
      status(message);
    },
    close,
  };
}

function resultItem(chat: ChatFrame, words: readonly string[], choose: () => void): HTMLLIElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "result";
  const meta = document.createElement("span");
  meta.className = "meta";
  const time = document.createElement("time");
  time.dateTime = new Date(chat.ts).toISOString();
  time.textContent = new Date(chat.ts).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  meta.append(bdi(chat.name), " ", time);
  const text = document.createElement("span");
  text.className = "text";
  text.append(...marked(chat.text, words));
  button.append(meta, text);
  button.addEventListener("click", choose);
  const li = document.createElement("li");
  li.append(button);
  return li;
}

/** The text as text nodes, with each matched word in a `<mark>`. */
function marked(text: string, words: readonly string[]): Node[] {
  const nodes: Node[] = [];
  let at = 0;
  for (const [start, end] of highlights(text, words)) {
    if (start > at) nodes.push(document.createTextNode(text.slice(at, start)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(start, end);
    nodes.push(mark);
    at = end;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}
