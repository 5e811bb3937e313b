import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BUILD_DIR = `${ROOT}.wrangler/test-build`;
export const BUNDLE = `${BUILD_DIR}/index.js`;
