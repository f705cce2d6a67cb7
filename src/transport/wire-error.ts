/**
 * Errors across the bus: a coordinator answers a client's request with the
 * error it would have thrown in the client's process (name, code, message and
 * fields as data), and the client rebuilds it as the same class, so that
 * callers see what they saw when clients stepped runs themselves (`code`,
 * `instanceof`, fields such as `runId` or `problems`).
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import * as errors from '../errors.js';
import type { WireError } from './port.js';

/** The error classes a reply may name, by class name. */
const CLASSES: ReadonlyMap<string, { prototype: object }> = new Map(
  (Object.entries(errors) as [string, unknown][]).filter((entry): entry is [string, { prototype: object }] => typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof Error),
);

/** Fields every error has, sent apart. */
const OWN = new Set(['name', 'code', 'message', 'stack', 'cause']);

/** A value as JSON, or undefined when it is not plain JSON data. */
function asJson(value: unknown): Json | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as Json);
  } catch {
    return undefined;
  }
}

/** An error as data, for a reply. Fields that are not JSON data are left out. */
export function errorToWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const fields: JsonObject = {};
  for (const [key, value] of Object.entries(error)) {
    if (OWN.has(key)) continue;
    const json = asJson(value);
    if (json !== undefined) fields[key] = json;
  }
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}), ...(Object.keys(fields).length === 0 ? {} : { fields }) };
}

/**
 * The error a reply names, rebuilt: an instance of taskwire's class of that
 * name (a `TaskwireError` with the code for an unknown name with a taskwire
 * code, a plain `Error` otherwise) with the message and fields sent. The stack
 * is the client's.
 */
export function errorFromWire(wire: WireError): Error {
  const error: Error = wire.code?.startsWith('TW_') === true ? new errors.TaskwireError(wire.code as errors.ErrorCode, wire.message) : new Error(wire.message);
  const cls = CLASSES.get(wire.name);
  if (cls !== undefined && error instanceof errors.TaskwireError) Object.setPrototypeOf(error, cls.prototype);
  error.name = wire.name;
  // The fields are JSON data checked by the reply's schema; `__proto__` is refused by parseJson.
  Object.assign(error, wire.fields ?? {});
  return error;
}
