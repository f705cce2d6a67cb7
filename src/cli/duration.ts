/**
 * Durations on the command line: `30d`, `12h`, `90m`, `45s`.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * Parses a positive whole number of seconds, minutes, hours, days or weeks
 * (`45s`, `90m`, `12h`, `30d`, `2w`) into milliseconds.
 *
 * @throws ConfigError naming the flag (`what`) on any other text.
 */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  const ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new ConfigError(`${what} expected a duration such as 30d, 12h, 90m or 45s, got ${JSON.stringify(text)}`);
  }
  return ms;
}
