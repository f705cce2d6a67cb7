/**
 * Statistics and formatting shared by the benchmark: medians, percentiles and
 * spreads computed exactly as the peer scripts compute them
 * (`../shared/bench/peers/node/bullmq-bench.mjs`), so that the figures are
 * comparable line by line.
 */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The p-th percentile of an ascending list (nearest rank, as the peers' `pct`),
 * or null for an empty list.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * sorted.length + 0.5) - 1));
  return sorted[k] as number;
}

/** (max − min) / median, in percent. */
export function spreadPct(values: readonly number[]): number {
  const mid = median(values);
  if (mid === 0) return 0;
  return ((Math.max(...values) - Math.min(...values)) / mid) * 100;
}

/** Index of the run closest to the median (its extra fields are reported, as the peers do). */
export function medianIndex(values: readonly number[]): number {
  const mid = median(values);
  let best = 0;
  values.forEach((value, i) => {
    if (Math.abs(value - mid) < Math.abs((values[best] as number) - mid)) best = i;
  });
  return best;
}

/** Rounds to 1 decimal. */
export const r1 = (x: number): number => Math.round(x * 10) / 10;
/** Rounds to 3 decimals. */
export const r3 = (x: number): number => Math.round(x * 1000) / 1000;
/** Rounds to 4 decimals. */
export const r4 = (x: number): number => Math.round(x * 10000) / 10000;

/** A number with thousands separators and at most `digits` decimals, for the table. */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Renders rows as a fixed-width text table (first row = header). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string => row.map((cell, i) => (i === 0 || i === 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const [header, ...body] = rows;
  if (header === undefined) return '';
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
