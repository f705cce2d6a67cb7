/**
 * Names of tasks, nodes, events, flows and queues.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,199}$/;

/** Checks a task, node or event name: letters, digits, `_ . : -`, up to 200 characters. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `${what} expected a name of letters, digits, "_", ".", ":" or "-" (1-200 characters), got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Checks a list of input or output names: an array of distinct names. Returns a copy. */
export function checkNames(names: unknown, what: string): string[] {
  if (!Array.isArray(names)) throw new ConfigError(`${what} expected an array of names, got ${JSON.stringify(names)}`);
  const seen = new Set<string>();
  names.forEach((name: unknown, i) => {
    checkName(name, `${what}[${i}]`);
    if (seen.has(name as string)) throw new ConfigError(`${what} names "${String(name)}" twice`);
    seen.add(name as string);
  });
  return [...(names as string[])];
}
