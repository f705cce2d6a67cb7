/**
 * Small formatting helpers shared by the views: times, durations, JSON.
 *
 * @packageDocumentation
 */

/** An epoch-ms time as the local time of day, with the date when it is not today. */
export function time(ms: number | undefined): string {
  if (ms === undefined) return '—';
  const date = new Date(ms);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

/** A duration between two epoch-ms times (`—` when one is missing). */
export function duration(from: number | undefined, to: number | undefined): string {
  if (from === undefined || to === undefined) return '—';
  const ms = Math.max(0, to - from);
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** A value as indented JSON (`undefined` as a dash). */
export function json(value: unknown): string {
  if (value === undefined) return '—';
  return JSON.stringify(value, null, 2) ?? typeof value;
}
