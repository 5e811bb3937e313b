// Bundles the browser client into public/: the page (src/client/page.ts,
// public/app.js) and the <edge-chat-room> element (src/client/embed.ts,
// public/embed.js), with the protocol's rules from src/shared/. The
// element carries the page's own markup (the chat:start … chat:end part
// of public/index.html) and stylesheet, so the two never drift apart.
// wrangler runs this as its [build] step before `wrangler dev` and
// `wrangler deploy`, so neither needs anything else; the tests' bundle
// (`wrangler deploy --dry-run`) runs it too. esbuild is the bundler
// wrangler itself uses, pinned to the same version.
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const page = readFileSync("public/index.html", "utf8");
const markup = /<!-- chat:start[\s\S]*?-->([\s\S]*)<!-- chat:end -->/.exec(page)?.[1];
if (!markup) throw new Error("public/index.html: the chat:start and chat:end comments are missing");
// The page's <h1> names the site; inside someone else's page the chat is not its heading.
const heading = "<h1>edge-chat</h1>";
if (!markup.includes(heading)) throw new Error(`public/index.html: expected ${heading} in the chat's header`);
const elementMarkup = markup.replace(heading, "").replace(/\n\s*/g, "\n");
const style = readFileSync("public/style.css", "utf8");

/** @param {string} entry @param {string} outfile @param {Record<string, string>} define */
async function bundle(entry, outfile, define = {}) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    define,
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    // Only the browser's own APIs: a Node built-in here is a mistake.
    platform: "browser",
    metafile: true,
    logLevel: "warning",
  });
  const bytes = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint)?.bytes ?? 0;
  console.log(`client: ${outfile}, ${bytes} bytes`);
}

await bundle("src/client/page.ts", "public/app.js");
await bundle("src/client/embed.ts", "public/embed.js", {
  __CHAT_MARKUP__: JSON.stringify(elementMarkup),
  __CHAT_STYLE__: JSON.stringify(style),
});
