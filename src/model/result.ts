/**
 * Checking a task's result against what it declares it provides.
 *
 * @packageDocumentation
 */
import { ResultError } from '../errors.js';

/**
 * Throws a {@link ResultError} when a task with several provided names returns
 * something that is not an object holding each of them (a field set to
 * `undefined` counts as missing). One provided name takes the whole result,
 * whatever it is.
 */
export function checkProvided(task: string, provides: readonly string[], result: unknown): void {
  if (provides.length < 2) return;
  const isObject = typeof result === 'object' && result !== null && !Array.isArray(result);
  const missing = isObject ? provides.filter((name) => !Object.hasOwn(result, name) || (result as Record<string, unknown>)[name] === undefined) : [...provides];
  if (missing.length === 0) return;
  const got = isObject ? `an object with ${Object.keys(result).length === 0 ? 'no fields' : `fields ${Object.keys(result).map((k) => `"${k}"`).join(', ')}`}` : result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result;
  throw new ResultError(task, missing, got);
}
