/**
 * The one naming rule of taskwire, for names of tasks, nodes, events, flows,
 * queues, inputs and provided values, and for run ids. Every entry path checks
 * it here: the model API, raw flow definitions and changes (see
 * `definition-schema.ts`), the client (run ids, event names), the CLI and bus
 * messages. See docs/security.md.
 *
 * @packageDocumentation
 */
import { matching, type Schema } from '../codec/schema.js';
import { ConfigError } from '../errors.js';

/**
 * Longest name or run id, in characters (ASCII, so also bytes). A run id and a
 * node id together must fit an AMQP routing key (255 bytes):
 * `run.<runId>.<nodeId>.<type>`.
 */
export const MAX_NAME_LENGTH = 100;

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

/**
 * Names that plain objects already hold (`__proto__`, `constructor`,
 * `toString`, ...): refused, so that a name used as an object key can never
 * reach or replace a prototype member.
 */
const RESERVED: ReadonlySet<string> = new Set([
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'constructor',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
]);

/** The rule, in words, for error messages and docs. */
export const NAME_RULE = `1 to ${MAX_NAME_LENGTH} letters, digits, "_", ".", ":" or "-", not starting with "." ":" or "-", and not a member of Object.prototype such as "__proto__" or "constructor"`;

/** Whether `value` is a valid name or run id (see {@link NAME_RULE}). */
export function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(value) && !RESERVED.has(value);
}

/** The schema of a name in a decoded message or definition: a `TW_DECODE` error when it breaks {@link NAME_RULE}. */
export const NameSchema: Schema<string> = matching(`a name (${NAME_RULE})`, isName);

/** Checks a name or run id; throws a ConfigError (`TW_CONFIG`) naming `what` when it breaks {@link NAME_RULE}. */
export function checkName(name: unknown, what: string): string {
  if (!isName(name)) {
    const shown = typeof name === 'string' && name.length > 120 ? `${JSON.stringify(name.slice(0, 120))}… (${name.length} characters)` : JSON.stringify(name);
    throw new ConfigError(`${what} expected a name of ${NAME_RULE}, got ${shown}`);
  }
  return name;
}

/**
 * The rule for node ids: a name, or names joined by "/" for the nodes of a
 * subflow (`payment/charge`: node `charge` of the subflow node `payment`), at
 * most {@link MAX_NAME_LENGTH} characters in all.
 */
export const NODE_ID_RULE = `names joined by "/" (each ${NAME_RULE}), at most ${MAX_NAME_LENGTH} characters in all`;

/** Whether `value` is a valid node id (see {@link NODE_ID_RULE}). */
export function isNodeId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_NAME_LENGTH) return false;
  if (!value.includes('/')) return isName(value);
  return value.split('/').every(isName);
}

/** The schema of a node id in a decoded message or definition (see {@link NODE_ID_RULE}). */
export const NodeIdSchema: Schema<string> = matching(`a node id (${NODE_ID_RULE})`, isNodeId);

/** Checks a node id; throws a ConfigError (`TW_CONFIG`) naming `what` when it breaks {@link NODE_ID_RULE}. */
export function checkNodeId(id: unknown, what: string): string {
  if (!isNodeId(id)) throw new ConfigError(`${what} expected a node id of ${NODE_ID_RULE}, got ${JSON.stringify(id)}`);
  return id;
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

/** Checks the keys of an object whose keys are names (inputs, bound inputs); returns the object. */
export function checkInputNames<T extends object>(value: T, what: string): T {
  for (const key of Object.keys(value)) checkName(key, `${what}: input`);
  return value;
}
