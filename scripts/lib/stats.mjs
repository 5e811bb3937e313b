// Small helpers the load scripts share: command-line numbers and percentiles.

/**
 * Reads `--name value` flags into numbers, with defaults.
 * @template {Record<string, number>} T
 * @param {T} defaults
 * @returns {T}
 */
export function numericArgs(defaults) {
  /** @type {Record<string, number>} */
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]?.replace(/^--/, "");
    if (key && key in out) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value)) throw new Error(`--${key} needs a number`);
      out[key] = value;
    }
  }
  return /** @type {T} */ (out);
}

/** The p-th percentile (0..100) of sorted numbers. */
export function percentile(/** @type {number[]} */ sorted, /** @type {number} */ p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
