/**
 * Files for the next message (protocol §11), on the page: the Attach file
 * button, dropping files on the conversation and pasting an image into
 * the message box. Each file uploads at once, in a strip above the
 * composer with its progress and a Remove button; the composer sends the
 * finished ones with the chat (§11.2). A refusal is said in plain words
 * and the file stays in the strip, marked, until removed.
 */

import { MAX_FILES_PER_MESSAGE } from "../shared/files";
import type { ClientConfig } from "../shared/http";
import type { FileInfo } from "../shared/server-frames";
import type { ChatConnection } from "./connection";
import { bdi } from "./dom";
import { ACCEPT, explain, precheck, UploadError, uploadFile } from "./uploads";
import type { View } from "./view";

interface Attachment {
  file: File;
  name: string;
  info?: FileInfo;
  failed?: string;
  sent: number;
  abort: AbortController;
  preview?: string;
}

export interface Attachments {
  /** The server's upload settings (GET /api/config); null hides the button. */
  configure(uploads: ClientConfig["uploads"]): void;
  /** The ids to send; undefined while an upload is still running (the composer says so). */
  ready(): string[] | undefined;
  /** Whether any file is waiting to be sent. */
  any(): boolean;
  /** Empties the strip (after a send, or on leaving the room). */
  clear(): void;
}

export function mountAttachments(
  { ui, server }: View,
  current: () => ChatConnection | undefined,
  room: () => string,
): Attachments {
  let uploads: ClientConfig["uploads"] = null;
  let items: Attachment[] = [];
  ui.fileInput.accept = ACCEPT;

  function add(files: Iterable<File>): void {
    const connection = current();
    if (!uploads || !connection?.token) return;
    for (const file of files) {
      if (items.length >= MAX_FILES_PER_MESSAGE) {
        ui.sendError.textContent = `A message can carry at most ${MAX_FILES_PER_MESSAGE} files.`;
        break;
      }
      // A pasted screenshot has no useful name of its own.
      const name =
        file.name && file.name !== "image.png"
          ? file.name
          : `pasted-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}.png`;
      const item: Attachment = { file, name, sent: 0, abort: new AbortController() };
      if (file.type.startsWith("image/")) item.preview = URL.createObjectURL(file);
      const refusal = precheck(file, name, uploads.maxBytes);
      if (refusal) item.failed = refusal.message;
      items.push(item);
      if (!refusal) void start(item, connection.token);
    }
    draw();
  }

  async function start(item: Attachment, token: string): Promise<void> {
    try {
      item.info = await uploadFile(item.file, item.name, {
        server,
        room: room(),
        token,
        maxBytes: uploads?.maxBytes,
        signal: item.abort.signal,
        onProgress: (sent) => {
          item.sent = sent;
          draw();
        },
      });
    } catch (err) {
      if (err instanceof UploadError && err.code === "aborted") return;
      item.failed = err instanceof UploadError ? err.message : explain("network_error", item.name);
    }
    draw();
  }

  function remove(item: Attachment): void {
    item.abort.abort();
    if (item.preview) URL.revokeObjectURL(item.preview);
    items = items.filter((i) => i !== item);
    draw();
    ui.message.focus();
  }

  function draw(): void {
    ui.attachments.hidden = items.length === 0;
    ui.attachments.replaceChildren(
      ...items.map((item) => {
        const li = document.createElement("li");
        li.className = "attachment";
        if (item.preview) {
          const img = document.createElement("img");
          img.src = item.preview;
          img.alt = "";
          li.append(img);
        }
        li.append(bdi(item.name));
        if (item.failed) {
          li.classList.add("failed");
          const why = document.createElement("span");
          why.className = "field-error";
          why.textContent = item.failed;
          li.append(why);
        } else if (!item.info) {
          const bar = document.createElement("progress");
          bar.max = item.file.size || 1;
          bar.value = item.sent;
          bar.setAttribute("aria-label", `Uploading ${item.name}`);
          li.append(bar);
        }
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = "×";
        button.setAttribute("aria-label", `Remove ${item.name}`);
        button.addEventListener("click", () => remove(item));
        li.append(button);
        return li;
      }),
    );
  }

  ui.attach.addEventListener("click", () => ui.fileInput.click());
  ui.fileInput.addEventListener("change", () => {
    add(ui.fileInput.files ?? []);
    ui.fileInput.value = "";
  });
  ui.message.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0 || !uploads) return;
    event.preventDefault();
    add(files);
  });
  ui.logPane.addEventListener("dragover", (event) => {
    if (!uploads || !event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    ui.logPane.classList.add("dropping");
  });
  ui.logPane.addEventListener("dragleave", () => ui.logPane.classList.remove("dropping"));
  ui.logPane.addEventListener("drop", (event) => {
    ui.logPane.classList.remove("dropping");
    if (!uploads || !event.dataTransfer?.files.length) return;
    event.preventDefault();
    add(event.dataTransfer.files);
  });

  return {
    configure(next) {
      uploads = next;
      ui.attach.hidden = next === null;
    },
    ready() {
      if (items.some((i) => !i.info && !i.failed)) return undefined;
      return items.flatMap((i) => (i.info ? [i.info.id] : []));
    },
    any: () => items.some((i) => i.info !== undefined),
    clear() {
      for (const item of items) if (item.preview) URL.revokeObjectURL(item.preview);
      items = [];
      draw();
    },
  };
}
