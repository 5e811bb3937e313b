// Fails when a module in src/ imports itself back through any chain of
// relative imports (type-only imports included: a circle of types is still
// two modules that cannot be read apart). Part of `npm run lint`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve("src");
/** @type {string[]} */
const files = [];
/** @param {string} dir */
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) files.push(path);
  }
}
walk(ROOT);

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;
/** @type {Map<string, string[]>} */
const edges = new Map();
for (const file of files) {
  const targets = [];
  for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
    const spec = match[1] ?? "";
    const base = resolve(dirname(file), spec);
    const target = [base, `${base}.ts`, join(base, "index.ts")].find((p) => files.includes(p));
    if (target) targets.push(target);
  }
  edges.set(file, targets);
}

/** @type {string[][]} */
const cycles = [];
/** @type {Map<string, "open" | "done">} */
const seen = new Map();
/** @param {string} file @param {string[]} path */
function visit(file, path) {
  if (seen.get(file) === "done") return;
  if (seen.get(file) === "open") {
    cycles.push([...path.slice(path.indexOf(file)), file]);
    return;
  }
  seen.set(file, "open");
  for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
  seen.set(file, "done");
}
for (const file of files) visit(file, []);

if (cycles.length > 0) {
  for (const cycle of cycles) console.error(`import circle: ${cycle.map((f) => relative(".", f)).join(" → ")}`);
  process.exit(1);
}
console.log(`no import circle among ${files.length} modules in src/`);
