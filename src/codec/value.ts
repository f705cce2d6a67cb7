/**
 * The value codec: what a task receives and returns, as plain {@link Json}.
 *
 * Values that JSON cannot represent are tagged as `{"$tw": tag, "v": ...}`:
 * `date` (ISO string), `bigint` (decimal string), `bytes` (base64) and `object`
 * (a plain object that has a `$tw` key of its own, escaped so decoding is unambiguous).
 *
 * Both directions are copy-on-write: containers that need no change are returned
 * as they are, so the result may share structure with the argument.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { DecodeError, EncodeError } from '../errors.js';
import type { Json, JsonObject } from './json.js';
import { FORBIDDEN_KEYS, formatPath } from './parse.js';

/** Deepest nesting of arrays and objects that {@link encodeValue} and {@link decodeValue} accept. */
export const MAX_VALUE_DEPTH = 100;

/** The key that marks a tagged value: `{"$tw": tag, "v": payload}`. */
export const TAG_KEY = '$tw';

/** The tags {@link encodeValue} writes and {@link decodeValue} reads. */
export type ValueTag = 'date' | 'bigint' | 'bytes' | 'object';

const SUPPORTED =
  'supported values are null, booleans, finite numbers, strings, arrays, plain objects, Date, bigint and Uint8Array';
const HINTS: Record<string, string> = {
  Map: ' (convert it first, e.g. Object.fromEntries(map))',
  Set: ' (convert it first, e.g. [...set])',
};

/** Per-call state; `keys[i]` is the key taken at depth i, `parents[i]` the container at depth i. */
interface EncodeState {
  readonly where: string;
  readonly keys: (string | number)[];
  readonly parents: object[];
}

/**
 * Encodes a value returned (or received) by a task as plain JSON.
 *
 * `undefined` object fields are omitted, `undefined` at the top level or in an
 * array becomes `null` (as `JSON.stringify` does). The result may share
 * unchanged arrays and objects with `value`.
 *
 * @param value - The value to encode.
 * @param where - Names the producer in error messages, e.g. `task "add" (node "add")`.
 * @returns The JSON form of `value`.
 * @throws EncodeError when the value holds a function, a symbol, a non-finite number,
 *   an invalid Date, a circular reference, an unsupported class instance, a key in
 *   {@link FORBIDDEN_KEYS}, or nests deeper than {@link MAX_VALUE_DEPTH}; the error's
 *   `path` (also in the message) points at the culprit, e.g. `$.a[2].b`.
 */
export function encodeValue(value: unknown, where: string): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      break;
    case 'undefined':
      return null;
    case 'object':
      if (value === null) return null;
      break;
  }
  return encode(value, { where, keys: [], parents: [] }, 0);
}

function fail(st: EncodeState, depth: number, problem: string, hint = ''): never {
  const path = formatPath(st.keys.slice(0, depth));
  throw new EncodeError(`cannot encode the value returned by ${st.where}: ${problem} at ${path}${hint}`, path);
}

/** Encodes `value`, found inside `depth` containers. */
function encode(value: unknown, st: EncodeState, depth: number): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : fail(st, depth, `non-finite number ${value}`);
    case 'undefined':
      return null;
    case 'bigint':
      return { $tw: 'bigint', v: value.toString() };
    case 'function':
      return fail(st, depth, 'unsupported function');
    case 'symbol':
      return fail(st, depth, 'unsupported symbol');
  }
  if (value === null) return null;
  if (Array.isArray(value)) return encodeArray(value, st, depth);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return encodeObject(value as Record<string, unknown>, st, depth);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return fail(st, depth, 'invalid Date');
    return { $tw: 'date', v: value.toISOString() };
  }
  if (value instanceof Uint8Array) {
    return { $tw: 'bytes', v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  const ctor = (proto)?.constructor;
  const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'anonymous class';
  return fail(st, depth, `unsupported ${name} instance`, HINTS[name] ?? `; ${SUPPORTED}`);
}

/** Records `container` as the parent at `depth`; on too deep nesting, reports a cycle if there is one. */
function enter(container: object, st: EncodeState, depth: number): void {
  st.parents[depth] = container;
  if (depth < MAX_VALUE_DEPTH) return;
  // Cycles are only looked for here: a cycle always ends up nesting too deeply.
  for (let j = 1; j <= depth; j++) {
    const i = st.parents.indexOf(st.parents[j]!);
    if (i < j) fail(st, j, 'circular reference', ` (back to ${formatPath(st.keys.slice(0, i))})`);
  }
  fail(st, depth, `nesting deeper than ${MAX_VALUE_DEPTH} levels`);
}

function encodeArray(array: unknown[], st: EncodeState, depth: number): Json[] {
  enter(array, st, depth);
  let out: Json[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    st.keys[depth] = i;
    const encoded = encode(item, st, depth + 1);
    if (out !== undefined) out.push(encoded);
    else if (encoded !== item) {
      out = [];
      for (let j = 0; j < i; j++) out.push(array[j] as Json);
      out.push(encoded);
    }
  }
  return out ?? (array as Json[]);
}

function encodeObject(object: Record<string, unknown>, st: EncodeState, depth: number): Json {
  enter(object, st, depth);
  const keys = Object.keys(object);
  let out: JsonObject | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    st.keys[depth] = key;
    if (FORBIDDEN_KEYS.has(key)) fail(st, depth + 1, `forbidden key "${key}"`, ' (decoders reject it)');
    const item = object[key];
    const encoded = item === undefined ? undefined : encode(item, st, depth + 1);
    if (out !== undefined) {
      if (encoded !== undefined) out[key] = encoded;
    } else if (encoded !== item || item === undefined) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = object[keys[j]!] as Json;
      if (encoded !== undefined) out[key] = encoded;
    }
  }
  const result = out ?? (object as JsonObject);
  return Object.hasOwn(object, TAG_KEY) ? { $tw: 'object', v: result } : result;
}

/**
 * Decodes JSON produced by {@link encodeValue}: tagged values become `Date`,
 * `bigint` and `Uint8Array` (never a `Buffer`), escaped objects are unwrapped.
 * The result may share unchanged arrays and objects with `json`.
 *
 * @param json - The JSON form of a value.
 * @returns The value.
 * @throws DecodeError on an unknown or malformed `$tw` tag, or nesting deeper
 *   than {@link MAX_VALUE_DEPTH}; the message names the path.
 */
export function decodeValue(json: Json): unknown {
  if (json === null || typeof json !== 'object') return json;
  return decode(json, [], 0);
}

function bad(keys: (string | number)[], depth: number, problem: string): never {
  throw new DecodeError(`cannot decode value: ${problem} at ${formatPath(keys.slice(0, depth))}`);
}

function decode(json: Json, keys: (string | number)[], depth: number): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (!Array.isArray(json)) {
    const tag = json[TAG_KEY];
    return tag === undefined ? decodeFields(json, keys, depth) : decodeTagged(json, tag, keys, depth);
  }
  checkDepth(keys, depth);
  let out: unknown[] | undefined;
  for (let i = 0; i < json.length; i++) {
    const item = json[i]!;
    keys[depth] = i;
    const decoded = decode(item, keys, depth + 1);
    if (out !== undefined) out.push(decoded);
    else if (decoded !== item) {
      out = json.slice(0, i);
      out.push(decoded);
    }
  }
  return out ?? json;
}

function checkDepth(keys: (string | number)[], depth: number): void {
  if (depth >= MAX_VALUE_DEPTH) bad(keys, depth, `nesting deeper than ${MAX_VALUE_DEPTH} levels`);
}

function decodeFields(json: JsonObject, keys: (string | number)[], depth: number): unknown {
  checkDepth(keys, depth);
  const names = Object.keys(json);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < names.length; i++) {
    const key = names[i]!;
    const item = json[key]!;
    keys[depth] = key;
    const decoded = decode(item, keys, depth + 1);
    if (out !== undefined) setOwn(out, key, decoded);
    else if (decoded !== item) {
      out = {};
      for (let j = 0; j < i; j++) setOwn(out, names[j]!, json[names[j]!]);
      setOwn(out, key, decoded);
    }
  }
  return out ?? json;
}

/** Assigns without ever invoking the `__proto__` setter. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

const BIGINT = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeTagged(json: JsonObject, tag: Json, keys: (string | number)[], depth: number): unknown {
  const v = json['v'];
  if (typeof tag !== 'string' || v === undefined || Object.keys(json).length !== 2) {
    return bad(keys, depth, `malformed tagged value (expected {"$tw": tag, "v": payload})`);
  }
  switch (tag as ValueTag) {
    case 'date':
      if (typeof v === 'string') {
        const date = new Date(v);
        if (!Number.isNaN(date.getTime())) return date;
      }
      break;
    case 'bigint':
      if (typeof v === 'string' && BIGINT.test(v)) return BigInt(v);
      break;
    case 'bytes':
      if (typeof v === 'string' && v.length % 4 === 0 && BASE64.test(v)) return bytesFromBase64(v);
      break;
    case 'object':
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return decodeFields(v, keys, depth);
      break;
    default:
      return bad(keys, depth, `unknown tag ${quote(tag)}`);
  }
  return bad(keys, depth, `invalid payload for tag "${tag}"`);
}

/** Quotes an untrusted string for an error message, truncated. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** Decodes base64 into a plain `Uint8Array` that owns its memory (not a view of Buffer's shared pool). */
function bytesFromBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64');
  return buf.byteLength === buf.buffer.byteLength
    ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    : new Uint8Array(buf);
}
