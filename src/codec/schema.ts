/**
 * A tiny declarative checker for message shapes:
 *
 * ```ts
 * const Dispatch = object({ runId: string({ minLength: 1 }), attempt: integer({ min: 1 }), kind: literal('apply', 'rollback') });
 * type Dispatch = Infer<typeof Dispatch>;
 * const msg = check(Dispatch, parseJson(text), 'dispatch message');
 * ```
 *
 * @packageDocumentation
 */
import { DecodeError } from '../errors.js';
import type { Json, JsonObject } from './json.js';

type Key = string | number;

/** Checks the shape of one value. Build schemas with the combinators of this module. */
export interface Schema<T> {
  /** What the schema accepts, in words, e.g. `an integer >= 1`. */
  readonly expected: string;
  /**
   * Returns the checked value (a fresh object for {@link object} and {@link record},
   * `value` itself otherwise) or throws. `path` holds the keys walked so far; use {@link check}.
   */
  readonly run: (value: unknown, path: Key[]) => T;
}

/** A schema whose field may be absent from an {@link object}. */
export interface OptionalSchema<T> extends Schema<T | undefined> {
  /** Marks the field as optional in {@link Infer}. */
  readonly optional: true;
}

/** The TypeScript type a schema checks for: `Infer<typeof MySchema>`. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** The fields of an {@link object} schema. */
export type Shape = Record<string, Schema<unknown>>;

type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** The type checked by `object(shape)`: optional schemas become optional fields. */
export type ObjectOf<S extends Shape> = Flatten<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

/** Thrown by `run`, turned into a DecodeError by {@link check}. */
class Mismatch {
  constructor(
    readonly path: Key[],
    readonly expected: string,
    readonly received: unknown,
  ) {}
}

function mismatch(path: Key[], expected: string, received: unknown): never {
  throw new Mismatch(path.slice(), expected, received);
}

function leaf<T>(expected: string, test: (value: unknown) => boolean): Schema<T> {
  return { expected, run: (value, path) => (test(value) ? (value as T) : mismatch(path, expected, value)) };
}

/** A value that passes a type guard, e.g. `matching('a name', isName)`; `expected` says what it accepts, in words. */
export function matching<T>(expected: string, test: (value: unknown) => value is T): Schema<T> {
  return leaf(expected, test);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function range(noun: string, min: number | undefined, max: number | undefined, unit = ''): string {
  if (min !== undefined && max !== undefined) return `${noun} of ${min} to ${max}${unit}`;
  if (min !== undefined) return `${noun} of at least ${min}${unit}`;
  return max !== undefined ? `${noun} of at most ${max}${unit}` : noun;
}

/** A string, optionally with a length range (in UTF-16 code units). */
export function string(opts: { minLength?: number; maxLength?: number } = {}): Schema<string> {
  const { minLength: min, maxLength: max } = opts;
  const expected = min === 1 && max === undefined ? 'a non-empty string' : range('a string', min, max, ' characters');
  return leaf(expected, (v) => typeof v === 'string' && v.length >= (min ?? 0) && v.length <= (max ?? Infinity));
}

/** An integer, optionally within `[min, max]`. */
export function integer(opts: { min?: number; max?: number } = {}): Schema<number> {
  const { min, max } = opts;
  const bounds = [min !== undefined ? `>= ${min}` : '', max !== undefined ? `<= ${max}` : ''].filter(Boolean);
  const expected = ['an integer', bounds.join(' and ')].filter(Boolean).join(' ');
  return leaf(expected, (v) => Number.isInteger(v) && (v as number) >= (min ?? -Infinity) && (v as number) <= (max ?? Infinity));
}

/** A finite number. */
export function number(): Schema<number> {
  return leaf('a finite number', (v) => typeof v === 'number' && Number.isFinite(v));
}

/** `true` or `false`. */
export function boolean(): Schema<boolean> {
  return leaf('a boolean', (v) => typeof v === 'boolean');
}

/** Exactly one of the given values, e.g. `literal('apply', 'rollback')`. */
export function literal<const V extends readonly (string | number | boolean | null)[]>(...values: V): Schema<V[number]> {
  const list = values.map((v) => JSON.stringify(v)).join(', ');
  return leaf(values.length === 1 ? list : `one of ${list}`, (v) => values.includes(v as V[number]));
}

/** Runs `schema`, reporting a mismatch of the value itself (not of a nested field) as `expected`. */
function relabel<T>(schema: Schema<T>, expected: string, value: unknown, path: Key[]): T {
  const depth = path.length;
  try {
    return schema.run(value, path);
  } catch (error) {
    if (error instanceof Mismatch && error.path.length === depth) mismatch(error.path, expected, value);
    throw error;
  }
}

/** Accepts `undefined` too; inside {@link object}, the field may be absent. */
export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  const expected = `${schema.expected} or nothing`;
  return {
    optional: true,
    expected,
    run: (value, path) => (value === undefined ? undefined : relabel(schema, expected, value, path)),
  };
}

/** Accepts `null` too. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  const expected = `${schema.expected} or null`;
  return { expected, run: (value, path) => (value === null ? null : relabel(schema, expected, value, path)) };
}

/** An array whose every item matches `item`; returns a fresh array. */
export function array<T>(item: Schema<T>): Schema<T[]> {
  const expected = `an array of ${item.expected}`;
  return {
    expected,
    run(value, path) {
      if (!Array.isArray(value)) return mismatch(path, expected, value);
      const out: T[] = [];
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        out.push(item.run(value[i], path));
        path.pop();
      }
      return out;
    },
  };
}

/**
 * A plain object with the given fields. Unknown keys are ignored and never copied:
 * the result is a fresh object holding only the fields of `shape` that are present.
 */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const fields = Object.entries(shape);
  return {
    expected: 'an object',
    run(value, path) {
      if (!isPlainObject(value)) return mismatch(path, 'an object', value);
      const out: Record<string, unknown> = {};
      for (const [key, schema] of fields) {
        path.push(key);
        const checked = schema.run(Object.hasOwn(value, key) ? value[key] : undefined, path);
        path.pop();
        if (checked !== undefined) out[key] = checked;
      }
      return out as ObjectOf<S>;
    },
  };
}

/**
 * A plain object with at least the given fields, checked without copying: the
 * object itself is returned, unknown keys and all. For values this process
 * wrote itself and reads back (store rows), where {@link object}'s fresh copy
 * would only cost time.
 */
export function shape<S extends Shape>(fields: S): Schema<ObjectOf<S>> {
  const entries = Object.entries(fields);
  return {
    expected: 'an object',
    run(value, path) {
      if (!isPlainObject(value)) return mismatch(path, 'an object', value);
      for (const [key, schema] of entries) {
        path.push(key);
        schema.run(Object.hasOwn(value, key) ? value[key] : undefined, path);
        path.pop();
      }
      return value as ObjectOf<S>;
    },
  };
}

/**
 * A plain object used as a map: every value matches `values` (and every key
 * matches `keys`, when given); returns a fresh object.
 */
export function record<T>(values: Schema<T>, keys?: Schema<string>): Schema<Record<string, T>> {
  const expected = `an object of ${values.expected}`;
  return {
    expected,
    run(value, path) {
      if (!isPlainObject(value)) return mismatch(path, expected, value);
      const out: Record<string, T> = {};
      for (const key of Object.keys(value)) {
        path.push(key);
        if (keys !== undefined) relabel(keys, `a key that is ${keys.expected}`, key, path);
        const checked = values.run(value[key], path);
        path.pop();
        if (key === '__proto__') Object.defineProperty(out, key, { value: checked, enumerable: true, writable: true, configurable: true });
        else out[key] = checked;
      }
      return out;
    },
  };
}

/** Guards the stack of the {@link json} walk. */
const JSON_MAX_DEPTH = 1000;

function checkJson(value: unknown, path: Key[]): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  if (path.length >= JSON_MAX_DEPTH) mismatch(path, `a JSON value nested at most ${JSON_MAX_DEPTH} levels`, value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJsonAt(value[i], path, i);
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) checkJsonAt(value[key], path, key);
  } else mismatch(path, 'a JSON value', value);
}

function checkJsonAt(value: unknown, path: Key[], key: Key): void {
  path.push(key);
  checkJson(value, path);
  path.pop();
}

/** Any JSON value (checked all the way down, returned as is, not copied). */
export function json(): Schema<Json> {
  return { expected: 'a JSON value', run: (value, path) => (checkJson(value, path), value as Json) };
}

/** A JSON object (not an array or null; checked all the way down, returned as is). */
export function jsonObject(): Schema<JsonObject> {
  return {
    expected: 'a JSON object',
    run(value, path) {
      if (!isPlainObject(value)) return mismatch(path, 'a JSON object', value);
      checkJson(value, path);
      return value as JsonObject;
    },
  };
}

function fieldName(path: Key[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  switch (typeof value) {
    case 'string':
      return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
    case 'number':
    case 'boolean':
      return `${String(value)} (${typeof value})`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/**
 * Checks `value` against `schema`.
 *
 * @param what - Names the value in the error, e.g. `dispatch message`.
 * @returns The typed value (fresh objects for {@link object} and {@link record}).
 * @throws DecodeError saying which field expected what and what it got, e.g.
 *   `invalid dispatch message: field "attempt" expected an integer >= 1, got "x" (string)`.
 */
export function check<T>(schema: Schema<T>, value: unknown, what: string): T {
  try {
    return schema.run(value, []);
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    const field = error.path.length > 0 ? `field "${fieldName(error.path)}" ` : '';
    throw new DecodeError(`invalid ${what}: ${field}expected ${error.expected}, got ${describe(error.received)}`);
  }
}
