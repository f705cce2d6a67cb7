/**
 * Safe JSON text <-> {@link Json} conversion for input that may be hostile
 * (messages from the bus, rows from the store): size and depth limits, and
 * rejection of keys that enable prototype pollution.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { DecodeError, EncodeError } from '../errors.js';
import type { Json } from './json.js';

/** Default largest message accepted or produced: 1 MiB (UTF-8 bytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** Default deepest nesting of arrays and objects accepted by {@link parseJson}. */
export const DEFAULT_MAX_DEPTH = 128;

/** Limits applied by {@link parseJson} and {@link stringifyJson}. */
export interface JsonLimits {
  /**
   * Largest accepted size, in UTF-8 bytes.
   * @default DEFAULT_MAX_MESSAGE_BYTES
   */
  maxBytes?: number;
  /**
   * Deepest accepted nesting of arrays and objects (the top-level container is depth 1).
   * Only {@link parseJson} checks it.
   * @default DEFAULT_MAX_DEPTH
   */
  maxDepth?: number;
}

/**
 * Object keys that are rejected anywhere in decoded JSON (and in encoded values),
 * because merging them into another object can pollute prototypes.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__']);

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Formats a path of keys as a JSON-path-like string: `['a', 2, 'b']` -> `$.a[2].b`,
 * keys that are not identifiers are quoted: `$["a b"]`.
 */
export function formatPath(keys: readonly (string | number)[]): string {
  let out = '$';
  for (const key of keys) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 size of `text`, computed only when the cheap bounds cannot decide (a UTF-16 unit is 1 to 3 bytes). */
function exceeds(text: string, maxBytes: number): number | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > maxBytes ? bytes : undefined;
}

/**
 * Parses JSON text from an untrusted source.
 *
 * The size is checked before parsing; the parsed value is then walked once to
 * check the depth and reject the keys in {@link FORBIDDEN_KEYS}.
 *
 * @param text - JSON text, or its UTF-8 bytes.
 * @param limits - Size and depth limits; defaults are {@link DEFAULT_MAX_MESSAGE_BYTES} and {@link DEFAULT_MAX_DEPTH}.
 * @returns The parsed value.
 * @throws DecodeError when the input is too large, is not valid UTF-8 or JSON,
 *   nests too deeply or contains a forbidden key.
 */
export function parseJson(text: string | Uint8Array, limits?: JsonLimits): Json {
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const size = typeof text === 'string' ? exceeds(text, maxBytes) : text.byteLength > maxBytes ? text.byteLength : undefined;
  if (size !== undefined) {
    throw new DecodeError(`message of ${size} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  let value: Json;
  try {
    value = JSON.parse(typeof text === 'string' ? text : utf8.decode(text)) as Json;
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new DecodeError(`message is not valid JSON: ${detail}`, { cause });
  }
  if (value !== null && typeof value === 'object') checkTree(value, maxDepth, 1, []);
  return value;
}

/** Checks depth and keys; recursion is bounded by `maxDepth`. */
function checkTree(value: Json[] | { [key: string]: Json }, maxDepth: number, depth: number, keys: (string | number)[]): void {
  if (depth > maxDepth) {
    throw new DecodeError(`message nests deeper than the limit of ${maxDepth} levels at ${formatPath(keys)}`);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item === null || typeof item !== 'object') continue;
      keys.push(i);
      checkTree(item, maxDepth, depth + 1, keys);
      keys.pop();
    }
    return;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      keys.push(key);
      throw new DecodeError(`message contains the forbidden key "${key}" at ${formatPath(keys)}`);
    }
    const item = value[key];
    if (item === null || typeof item !== 'object') continue;
    keys.push(key);
    checkTree(item, maxDepth, depth + 1, keys);
    keys.pop();
  }
}

/**
 * Serialises a {@link Json} value, refusing results larger than the limit.
 *
 * @param value - The value to serialise (from {@link encodeValue} or a message).
 * @param limits - Only `maxBytes` is used; defaults to {@link DEFAULT_MAX_MESSAGE_BYTES}.
 * @returns The JSON text.
 * @throws EncodeError (path `$`) when the text exceeds `maxBytes`, or when the
 *   value cannot be serialised at all (a cycle or excessive nesting).
 */
export function stringifyJson(value: Json, limits?: JsonLimits): string {
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new EncodeError(`cannot serialise payload: ${detail}`, '$');
  }
  if (text === undefined) throw new EncodeError('cannot serialise payload: it is not a JSON value', '$');
  const size = exceeds(text, maxBytes);
  if (size !== undefined) {
    throw new EncodeError(`payload of ${size} bytes exceeds the limit of ${maxBytes} bytes`, '$');
  }
  return text;
}

/** One open container of {@link stringifyParsed}'s walk. */
interface Frame {
  readonly container: unknown[] | Record<string, unknown>;
  readonly keys: string[] | undefined;
  index: number;
}

/**
 * Serialises a value that `JSON.parse` produced (a body a client library parsed
 * on receipt), at any depth: the walk keeps its own stack, so a hostile message
 * nested far deeper than `JSON.stringify` can recurse still becomes its text
 * (for inspection, or to be checked by {@link parseJson}'s limits). Values that
 * JSON has no form for become `null`, as in `JSON.stringify`.
 */
export function stringifyParsed(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = (item: unknown): void => {
    if (Array.isArray(item)) {
      out.push('[');
      stack.push({ container: item, keys: undefined, index: 0 });
    } else if (item !== null && typeof item === 'object') {
      out.push('{');
      stack.push({ container: item as Record<string, unknown>, keys: Object.keys(item), index: 0 });
    } else {
      out.push(JSON.stringify(item) ?? 'null');
    }
  };
  open(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    const length = frame.keys?.length ?? (frame.container as unknown[]).length;
    if (frame.index >= length) {
      out.push(frame.keys === undefined ? ']' : '}');
      stack.pop();
      continue;
    }
    if (frame.index > 0) out.push(',');
    if (frame.keys === undefined) {
      open((frame.container as unknown[])[frame.index++]);
    } else {
      const key = frame.keys[frame.index++] as string;
      out.push(`${JSON.stringify(key)}:`);
      open((frame.container as Record<string, unknown>)[key]);
    }
  }
  return out.join('');
}
