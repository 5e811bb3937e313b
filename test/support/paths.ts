import { ROOT } from "../../scripts/lib/harness.mjs";

export { ROOT };
export const BUILD_DIR = `${ROOT}.wrangler/test-build`;
export const BUNDLE = `${BUILD_DIR}/index.js`;
