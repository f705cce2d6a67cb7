import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_MESSAGE_BYTES,
  formatPath,
  parseJson,
  stringifyJson,
} from '../../src/codec/parse.js';
import { decodeValue, encodeValue } from '../../src/codec/value.js';
import type { Json } from '../../src/codec/json.js';
import { DecodeError, EncodeError } from '../../src/errors.js';

function decodeError(run: () => unknown): DecodeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('TW_DECODE');
    return error as DecodeError;
  }
  throw new Error('expected a DecodeError');
}

const arrays = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
const objects = (levels: number): string => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

describe('parseJson', () => {
  it('parses text and UTF-8 bytes', () => {
    expect(parseJson('{"a":[1,"é",null]}')).toEqual({ a: [1, 'é', null] });
    expect(parseJson(new TextEncoder().encode('{"a":"é"}'))).toEqual({ a: 'é' });
    expect(parseJson('3')).toBe(3);
  });

  it('rejects oversize input before parsing', () => {
    const big = `"${'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES)}"`;
    expect(decodeError(() => parseJson(big)).message).toBe(
      `message of ${DEFAULT_MAX_MESSAGE_BYTES + 2} bytes exceeds the limit of ${DEFAULT_MAX_MESSAGE_BYTES} bytes`,
    );
    expect(decodeError(() => parseJson(new Uint8Array(11), { maxBytes: 10 })).message).toBe(
      'message of 11 bytes exceeds the limit of 10 bytes',
    );
    // Not even valid JSON: the size is what is reported.
    expect(decodeError(() => parseJson('{{{{{', { maxBytes: 4 })).message).toContain('exceeds the limit');
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(parseJson('"éé"', { maxBytes: 6 })).toBe('éé');
    expect(decodeError(() => parseJson('"ééé"', { maxBytes: 6 })).message).toBe(
      'message of 8 bytes exceeds the limit of 6 bytes',
    );
  });

  it('reports syntax errors with the cause', () => {
    const e = decodeError(() => parseJson('{"a":'));
    expect(e.message).toMatch(/^message is not valid JSON: /);
    expect(e.cause).toBeInstanceOf(SyntaxError);
    expect(decodeError(() => parseJson(new Uint8Array([0x22, 0xff, 0x22]))).message).toContain('not valid JSON');
  });

  it(`accepts ${DEFAULT_MAX_DEPTH} levels of nesting and rejects more`, () => {
    expect(() => parseJson(arrays(DEFAULT_MAX_DEPTH))).not.toThrow();
    expect(() => parseJson(objects(DEFAULT_MAX_DEPTH))).not.toThrow();
    expect(decodeError(() => parseJson(arrays(DEFAULT_MAX_DEPTH + 1))).message).toContain(
      `nests deeper than the limit of ${DEFAULT_MAX_DEPTH} levels at $[0]`,
    );
    expect(decodeError(() => parseJson('{"a":[{"b":1}]}', { maxDepth: 2 })).message).toContain('at $.a[0]');
  });

  it('rejects 10000 levels of nesting without a stack overflow', () => {
    expect(decodeError(() => parseJson(arrays(10_000))).message).toContain('nests deeper');
    expect(decodeError(() => parseJson(objects(10_000))).message).toContain('nests deeper');
  });

  it('rejects __proto__ and does not pollute Object.prototype', () => {
    const e = decodeError(() => parseJson('{"__proto__":{"polluted":1}}'));
    expect(e.message).toBe('message contains the forbidden key "__proto__" at $.__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(decodeError(() => parseJson('{"a":[{"\\u005f_proto__":1}]}')).message).toContain('at $.a[0].__proto__');
  });

  it.each(['constructor', 'prototype'])('accepts "%s" as an ordinary key (only __proto__ is dangerous)', (key) => {
    expect(parseJson(`{"x":{"${key}":{}}}`)).toEqual({ x: { [key]: {} } });
  });

  it('accepts the forbidden words as values', () => {
    expect(parseJson('{"a":"__proto__"}')).toEqual({ a: '__proto__' });
  });
});

describe('stringifyJson', () => {
  it('serialises within the limit', () => {
    expect(stringifyJson({ a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(stringifyJson('éé', { maxBytes: 6 })).toBe('"éé"');
  });

  it('rejects oversize payloads', () => {
    try {
      stringifyJson('ééé', { maxBytes: 6 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as EncodeError).message).toBe('payload of 8 bytes exceeds the limit of 6 bytes');
      expect((error as EncodeError).path).toBe('$');
    }
  });

  it('turns serialisation failures into EncodeError', () => {
    const cyclic: Record<string, Json> = {};
    cyclic['self'] = cyclic;
    expect(() => stringifyJson(cyclic)).toThrow(EncodeError);
  });

  it('round-trips encoded values with parseJson', () => {
    const value = { when: new Date(1), big: 2n ** 70n, bytes: new Uint8Array([0, 255]), $tw: 'mine' };
    const text = stringifyJson(encodeValue(value, 'test'));
    expect(decodeValue(parseJson(text))).toEqual(value);
  });
});

describe('formatPath', () => {
  it('formats identifiers, indexes and other keys', () => {
    expect(formatPath([])).toBe('$');
    expect(formatPath(['a', 2, 'b', 'c d', '$x'])).toBe('$.a[2].b["c d"].$x');
  });
});
