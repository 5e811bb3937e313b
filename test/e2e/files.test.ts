/**
 * File attachments on the page (protocol §11), in Chromium: attaching an
 * image by the Attach file button, by pasting and by dropping it, the
 * thumbnail the other side sees (sized before it loads) and the full-size
 * file it opens; a refused file said in plain words and removed; and no
 * button at all where uploads are off.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserSuite, join, person } from "../support/browser";
import { freshRoom } from "../support/client";
import { png } from "../support/files";
import { startChat } from "../support/server";

const MAX = 64 * 1024;
const suite = browserSuite({
  FILES_SECRET: "e2e-files-secret-0123456789abcdef-0123456789",
  MAX_UPLOAD_BYTES: MAX,
});

async function pair(room: string) {
  const ann = await person(suite.browser, suite.server.origin);
  const bob = await person(suite.browser, suite.server.origin);
  await join(ann.page, room, "Ann");
  await join(bob.page, room, "Bob");
  await ann.page.getByRole("button", { name: "Attach file" }).waitFor();
  return { ann, bob };
}

/** Waits until every file in the strip has uploaded, then sends. */
async function sendFiles(page: Page, text = ""): Promise<void> {
  const strip = page.getByRole("list", { name: "Files to send" });
  await strip.getByRole("listitem").first().waitFor();
  await expect.poll(() => strip.locator("progress").count()).toBe(0);
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
  await expect.poll(() => strip.isHidden()).toBe(true);
}

/** Puts a file into an event the way the browser does for a paste or a drop. */
async function dispatchFile(page: Page, kind: "paste" | "drop", bytes: Uint8Array, name: string): Promise<void> {
  await page.evaluate(
    ({ kind, data, name }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], name, { type: "image/png" }));
      if (kind === "paste") {
        const box = document.querySelector("#message");
        box?.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
      } else {
        const pane = document.querySelector("#log-pane");
        for (const type of ["dragover", "drop"]) {
          pane?.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }
      }
    },
    { kind, data: [...bytes], name },
  );
}

describe("file attachments on the page", () => {
  it("sends an image chosen with Attach file; the other side sees a thumbnail that opens full size", async () => {
    const room = freshRoom("e2e-files");
    const { ann, bob } = await pair(room);
    const chooser = ann.page.waitForEvent("filechooser");
    await ann.page.getByRole("button", { name: "Attach file" }).click();
    await (await chooser).setFiles({ name: "red.png", mimeType: "image/png", buffer: Buffer.from(png(120, 80)) });
    await sendFiles(ann.page, "a red box");

    const image = bob.page.getByRole("img", { name: "red.png" });
    await image.waitFor();
    // Sized from the message before a byte of it loaded: no layout jump.
    expect(
      await image.evaluate((img: HTMLImageElement) => [img.getAttribute("width"), img.getAttribute("height")]),
    ).toEqual(["120", "80"]);
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(120);

    const popup = bob.page.waitForEvent("popup");
    await image.click();
    const opened = await popup;
    await opened.waitForLoadState();
    expect(opened.url()).toMatch(new RegExp(`/files/${room}/[A-Za-z0-9_-]{22}\\?exp=`));
    const res = await opened.request.get(opened.url());
    expect([res.status(), res.headers()["content-type"]]).toEqual([200, "image/png"]);
    expect([...ann.errors, ...bob.errors]).toEqual([]);
  });

  it("sends an image pasted into the message box, and one dropped on the conversation", async () => {
    const room = freshRoom("e2e-files");
    const { ann, bob } = await pair(room);
    await dispatchFile(ann.page, "paste", png(30, 20), "image.png");
    await sendFiles(ann.page);
    await dispatchFile(ann.page, "drop", png(10, 40), "dropped.png");
    await sendFiles(ann.page);
    const thumbs = bob.page.locator("#messages .file-image img");
    await expect.poll(() => thumbs.count()).toBe(2);
    expect(
      await thumbs.evaluateAll((imgs: HTMLImageElement[]) =>
        imgs.map((i) => [i.alt.startsWith("pasted-"), i.width > 0 && i.getAttribute("height")]),
      ),
    ).toEqual([
      [true, "20"],
      [false, "40"],
    ]);
    expect([...ann.errors, ...bob.errors]).toEqual([]);
  });

  it("says in plain words why a file was refused, and removes it", async () => {
    const room = freshRoom("e2e-files");
    const { ann } = await pair(room);
    const chooser = ann.page.waitForEvent("filechooser");
    await ann.page.getByRole("button", { name: "Attach file" }).click();
    await (await chooser).setFiles([
      { name: "huge.png", mimeType: "image/png", buffer: Buffer.alloc(MAX + 1) },
      // A PNG under a JPEG's name and type: the server reads its first bytes.
      { name: "photo.jpg", mimeType: "image/jpeg", buffer: Buffer.from(png(4, 4)) },
      { name: "tool.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ") },
    ]);
    const strip = ann.page.getByRole("list", { name: "Files to send" });
    await expect.poll(() => strip.locator(".failed").count()).toBe(3);
    expect(await strip.locator(".field-error").allTextContents()).toEqual([
      "huge.png is too large: files may be up to 64 KB.",
      "photo.jpg can't be shared: only images (PNG, JPEG, GIF, WebP), PDFs and text files, and an image must really be one.",
      "tool.exe can't be shared: only images (PNG, JPEG, GIF, WebP), PDFs and text files, and an image must really be one.",
    ]);
    for (const name of ["huge.png", "photo.jpg", "tool.exe"]) {
      await strip.getByRole("button", { name: `Remove ${name}` }).click();
    }
    await expect.poll(() => strip.isHidden()).toBe(true);
    // Nothing to send: an empty message with no files is not sent.
    await ann.page.getByRole("button", { name: "Send" }).click();
    expect(await ann.page.locator("#messages .msg").count()).toBe(0);
  });

  it("shows no Attach file button where uploads are off", async () => {
    const off = await startChat({ vars: {} });
    try {
      const ann = await person(suite.browser, off.origin);
      await join(ann.page, freshRoom("e2e-files"), "Ann");
      await ann.page.getByRole("textbox", { name: "Message" }).waitFor();
      await ann.page.waitForLoadState("networkidle");
      expect(await ann.page.getByRole("button", { name: "Attach file" }).count()).toBe(0);
    } finally {
      await off.stop();
    }
  });
});
