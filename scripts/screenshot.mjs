// Refreshes docs/screenshot.png, the picture of the client in the README:
// builds the worker, runs it on Miniflare, has three people chat in Chromium
// and photographs one of them. Run by hand (`npm run screenshot`) when the
// page changes; the tests write their own screenshots to test-results/.
import { launch } from "./lib/browser.mjs";
import { buildWorker, startWorker } from "./lib/harness.mjs";

const TARGET = "docs/screenshot.png";

const server = await startWorker({ scriptPath: buildWorker({ outDir: ".wrangler/screenshot-build" }) });
const origin = server.origin;
const browser = await launch();
try {
  /** @type {Map<string, import("playwright-core").Page>} */
  const pages = new Map();
  for (const name of ["Ann", "Ben", "Chioma"]) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 620 }, baseURL: origin });
    const page = await context.newPage();
    await page.goto("/#lobby");
    await page.getByRole("textbox", { name: "Name" }).fill(name);
    await page.getByRole("button", { name: "Join" }).click();
    await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
    pages.set(name, page);
  }
  const person = (/** @type {string} */ name) => {
    const page = pages.get(name);
    if (!page) throw new Error(`no page for ${name}`);
    return page;
  };
  const people = { Ann: person("Ann"), Ben: person("Ben"), Chioma: person("Chioma") };
  const say = async (/** @type {string} */ name, /** @type {string} */ text) => {
    await person(name).getByRole("textbox", { name: "Message" }).fill(text);
    await person(name).getByRole("button", { name: "Send" }).click();
    await people.Ann.locator("#messages .msg", { hasText: text }).first().waitFor();
  };
  await say("Ben", "Morning! Is the deploy still on for 10:00?");
  await say("Ann", "Yes, CI is green. I'll post when it's live.");
  await say("Chioma", "Watching the dashboard now.");
  await people.Ben.locator("#users").getByRole("button", { name: "Ann" }).click();
  await people.Ben.getByRole("textbox", { name: "Message" }).fill("Ping me if you need a reviewer");
  await people.Ben.getByRole("button", { name: "Send" }).click();
  await people.Ann.locator("#messages .msg.dm").waitFor();
  // The room relays one `typing` per person per 2 s, and Chioma's last one
  // went out with her message: wait that out, as a person pausing would.
  await people.Chioma.waitForTimeout(2600);
  await people.Chioma.getByRole("textbox", { name: "Message" }).pressSequentially("typing");
  await people.Ann.locator("#typing").filter({ hasText: "typing" }).waitFor();
  await people.Ann.screenshot({ path: TARGET });
  console.log(`wrote ${TARGET}`);
} finally {
  await browser.close();
  await server.stop();
}
