/**
 * Option objects checked for unknown fields: a misspelt option must not fall
 * back silently to its default.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';

/**
 * The field names of an options type, listed once: the compiler checks the list
 * against the type (a field added to the type and not here does not compile).
 */
export function optionKeys<T extends object>(keys: Record<keyof Required<T>, true>): readonly string[] {
  return Object.keys(keys);
}

/** Names users of other task libraries reach for, mapped to ours (used when the known keys hold the target). */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  attempts: ['limit'],
  maxattempts: ['limit'],
  retries: ['limit', 'retry'],
  maxretries: ['limit', 'retry'],
  delay: ['initialDelayMs'],
  delayms: ['initialDelayMs'],
  backoff: ['factor'],
  timeout: ['timeoutMs'],
};

/**
 * Throws a `ConfigError` naming the first field of `given` that is not in
 * `known`, with the closest known name as a suggestion (or the known names).
 *
 * @param owner who the options belong to, as the message starts (`task "add"`)
 * @param what what the fields are called in the message
 */
export function checkKeys(given: object | undefined, known: readonly string[], owner: string, what = 'option'): void {
  if (given === undefined || given === null || typeof given !== 'object') return;
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const suggestion = suggest(key, known);
    const hint = suggestion === undefined ? ` (known: ${known.join(', ')})` : `; did you mean "${suggestion}"?`;
    throw new ConfigError(`${owner}: unknown ${what} "${key}"${hint}`);
  }
}

/** The known name closest to `key`: an alias, a name containing it (or contained in it), or one a typo away. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const alias = ALIASES[lower]?.find((name) => known.includes(name));
  if (alias !== undefined) return alias;
  const byDistance = (names: readonly string[]): string | undefined =>
    [...names].sort((a, b) => distance(lower, a.toLowerCase()) - distance(lower, b.toLowerCase()))[0];
  const related = known.filter((name) => {
    const other = name.toLowerCase();
    return other.includes(lower) || (other.length >= 3 && lower.includes(other));
  });
  if (related.length > 0) return byDistance(related);
  const near = known.filter((name) => distance(lower, name.toLowerCase()) <= Math.max(2, Math.floor(key.length / 3)));
  return byDistance(near);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
