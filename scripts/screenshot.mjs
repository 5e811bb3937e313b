// Refreshes docs/screenshot.png, the picture of the client in the README:
// builds the worker, runs it on Miniflare, has three people chat in Chromium
// and photographs one of them. Run by hand (`npm run screenshot`) when the
// page changes; the tests write their own screenshots to test-results/.
import { execFileSync } from "node:child_process";
import { Miniflare } from "miniflare";
import { chromium } from "playwright-core";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

const OUT_DIR = ".wrangler/screenshot-build";
const TARGET = "docs/screenshot.png";

execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", OUT_DIR], {
  stdio: ["ignore", "ignore", "inherit"],
});
const { workerOptions } = unstable_getMiniflareWorkerOptions("wrangler.toml");
const mf = new Miniflare({
  ...workerOptions,
  modules: true,
  scriptPath: `${OUT_DIR}/index.js`,
  host: "127.0.0.1",
  port: 0,
});
const origin = (await mf.ready).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const people = {};
  for (const name of ["Ann", "Ben", "Chioma"]) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 620 }, baseURL: origin });
    const page = await context.newPage();
    await page.goto("/#lobby");
    await page.getByRole("textbox", { name: "Name" }).fill(name);
    await page.getByRole("button", { name: "Join" }).click();
    await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
    people[name] = page;
  }
  const say = async (name, text) => {
    await people[name].getByRole("textbox", { name: "Message" }).fill(text);
    await people[name].getByRole("button", { name: "Send" }).click();
    await people.Ann.locator("#messages .msg", { hasText: text }).first().waitFor();
  };
  await say("Ben", "Morning! Is the deploy still on for 10:00?");
  await say("Ann", "Yes, CI is green. I'll post when it's live.");
  await say("Chioma", "Watching the dashboard now.");
  await people.Ben.locator("#users").getByRole("button", { name: "Ann" }).click();
  await people.Ben.getByRole("textbox", { name: "Message" }).fill("Ping me if you need a reviewer");
  await people.Ben.getByRole("button", { name: "Send" }).click();
  await people.Ann.locator("#messages .msg.dm").waitFor();
  await people.Chioma.getByRole("textbox", { name: "Message" }).pressSequentially("typing");
  await people.Ann.locator("#typing").filter({ hasText: "typing" }).waitFor();
  await people.Ann.screenshot({ path: TARGET });
  console.log(`wrote ${TARGET}`);
} finally {
  await browser.close();
  await server.stop();
}
