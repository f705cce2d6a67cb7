import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/codec/json.js';
import { decodeValue, encodeValue, MAX_VALUE_DEPTH } from '../../src/codec/value.js';
import { DecodeError, EncodeError } from '../../src/errors.js';

const WHERE = 'task "add" (node "add")';
const PREFIX = `cannot encode the value returned by ${WHERE}: `;

/** encode -> JSON text -> parse -> decode, as across the store and the bus. */
function roundTrip(value: unknown): unknown {
  return decodeValue(JSON.parse(JSON.stringify(encodeValue(value, WHERE))) as Json);
}

/** Encodes `value`, expecting an EncodeError; returns it. */
function encodeError(value: unknown): EncodeError {
  try {
    encodeValue(value, WHERE);
  } catch (error) {
    expect(error).toBeInstanceOf(EncodeError);
    const e = error as EncodeError;
    expect(e.code).toBe('TW_ENCODE');
    expect(e.message.startsWith(PREFIX)).toBe(true);
    expect(e.message).toContain(` at ${e.path}`);
    return e;
  }
  throw new Error('expected an EncodeError');
}

function nest(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

describe('encodeValue', () => {
  it('returns JSON primitives as they are', () => {
    for (const v of [null, true, false, 0, -1.5, '', 'x']) expect(encodeValue(v, WHERE)).toBe(v);
    expect(encodeValue(undefined, WHERE)).toBeNull();
  });

  it('tags dates, bigints and bytes', () => {
    expect(encodeValue(new Date(0), WHERE)).toEqual({ $tw: 'date', v: '1970-01-01T00:00:00.000Z' });
    expect(encodeValue(-123n, WHERE)).toEqual({ $tw: 'bigint', v: '-123' });
    expect(encodeValue(new Uint8Array([1, 2, 3]), WHERE)).toEqual({ $tw: 'bytes', v: 'AQID' });
    expect(encodeValue(Buffer.from('hi'), WHERE)).toEqual({ $tw: 'bytes', v: 'aGk=' });
  });

  it('encodes only the viewed part of a Uint8Array', () => {
    const view = new Uint8Array([9, 1, 2, 9]).subarray(1, 3);
    expect(encodeValue(view, WHERE)).toEqual({ $tw: 'bytes', v: 'AQI=' });
  });

  it('escapes plain objects that have a $tw key', () => {
    const value = { $tw: 'date', v: 'not a date' };
    expect(encodeValue(value, WHERE)).toEqual({ $tw: 'object', v: { $tw: 'date', v: 'not a date' } });
    expect(roundTrip({ a: value, b: { $tw: { $tw: 1n } } })).toEqual({ a: value, b: { $tw: { $tw: 1n } } });
  });

  it('handles undefined as JSON.stringify does', () => {
    expect(encodeValue({ a: undefined, b: 1, c: [undefined] }, WHERE)).toEqual({ b: 1, c: [null] });
     
    expect(encodeValue([1, , 3], WHERE)).toEqual([1, null, 3]);
    expect(Object.keys(encodeValue({ a: undefined }, WHERE) as object)).toEqual([]);
  });

  it('does not modify its argument and shares untouched parts', () => {
    const shared = { x: [1, 2] };
    const value = { when: new Date(0), shared, list: [shared, 2n] };
    const encoded = encodeValue(value, WHERE) as { shared: unknown; list: unknown[] };
    expect(value.when).toBeInstanceOf(Date);
    expect(value.list[1]).toBe(2n);
    expect(encoded.shared).toBe(shared);
    const plain = { a: [1, { b: 'c' }] };
    expect(encodeValue(plain, WHERE)).toBe(plain);
  });

  it('accepts null-prototype objects and repeated (non-circular) references', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(encodeValue(bare, WHERE)).toEqual({ a: 1 });
    const shared = { n: 1 };
    expect(roundTrip([shared, shared, { shared }])).toEqual([{ n: 1 }, { n: 1 }, { shared: { n: 1 } }]);
  });

  it('rejects functions and symbols with the path', () => {
    const fn = encodeError({ a: [0, 1, { b: () => 1 }] });
    expect(fn.path).toBe('$.a[2].b');
    expect(fn.message).toBe(`${PREFIX}unsupported function at $.a[2].b`);
    expect(encodeError({ 'a key': [Symbol('s')] }).path).toBe('$["a key"][0]');
    expect(encodeError(() => 1).path).toBe('$');
  });

  it('rejects NaN and infinities', () => {
    for (const n of [NaN, Infinity, -Infinity]) {
      const e = encodeError({ n });
      expect(e.path).toBe('$.n');
      expect(e.message).toContain(String(n));
    }
    expect(encodeError(NaN).path).toBe('$');
  });

  it('rejects circular references, naming where they loop back to', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = { list: [a] };
    const e = encodeError(a);
    expect(e.path).toBe('$.self.list[0]');
    expect(e.message).toBe(`${PREFIX}circular reference at $.self.list[0] (back to $)`);
    const arr: unknown[] = [1];
    arr.push({ inner: arr });
    expect(encodeError({ top: arr }).message).toContain('circular reference at $.top[1].inner (back to $.top)');
  });

  it('rejects unsupported class instances, naming the constructor', () => {
    class Foo {
      x = 1;
    }
    expect(encodeError({ m: new Map() }).message).toContain('unsupported Map instance at $.m');
    expect(encodeError({ s: new Set([1]) }).message).toContain('unsupported Set instance at $.s');
    const foo = encodeError([new Foo()]);
    expect(foo.message).toContain('unsupported Foo instance at $[0]');
    expect(foo.message).toContain('supported values are');
    expect(encodeError(new Float64Array(1)).message).toContain('Float64Array');
    expect(encodeError(new Error('x')).message).toContain('Error instance');
  });

  it('rejects invalid dates and forbidden keys', () => {
    expect(encodeError({ d: new Date(NaN) }).message).toContain('invalid Date at $.d');
    expect(roundTrip({ a: { constructor: 'Ferrari' }, prototype: 1 })).toEqual({ a: { constructor: 'Ferrari' }, prototype: 1 });
    expect(encodeError(JSON.parse('{"__proto__": 1}')).path).toBe('$.__proto__');
  });

  it(`accepts ${MAX_VALUE_DEPTH} levels of nesting and rejects more`, () => {
    expect(roundTrip(nest(MAX_VALUE_DEPTH, new Date(5)))).toEqual(nest(MAX_VALUE_DEPTH, new Date(5)));
    const e = encodeError(nest(MAX_VALUE_DEPTH + 1));
    expect(e.message).toContain(`nesting deeper than ${MAX_VALUE_DEPTH} levels`);
    expect(encodeError(nest(10_000)).message).toContain('nesting deeper');
  });
});

describe('decodeValue', () => {
  it('decodes bytes into a plain Uint8Array that owns its memory', () => {
    for (const bytes of [new Uint8Array([1, 2, 3]), new Uint8Array(10_000).fill(7), new Uint8Array()]) {
      const decoded = roundTrip(Buffer.from(bytes)) as Uint8Array;
      expect(Buffer.isBuffer(decoded)).toBe(false);
      expect(decoded).toBeInstanceOf(Uint8Array);
      expect(decoded.buffer.byteLength).toBe(bytes.length);
      expect(Array.from(decoded)).toEqual(Array.from(bytes));
    }
  });

  it('returns untagged JSON as it is', () => {
    const json = { a: [1, { b: 'c' }], d: null };
    expect(decodeValue(json)).toBe(json);
  });

  it('never sets a prototype from a "__proto__" key', () => {
    const json = JSON.parse('{"__proto__": {"polluted": 1}, "d": {"$tw": "bigint", "v": "1"}}') as Json;
    const decoded = decodeValue(json) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it.each([
    [{ $tw: 'map', v: [] }, 'unknown tag "map" at $'],
    [{ a: [{ $tw: 5, v: 1 }] }, 'malformed tagged value'],
    [{ $tw: 'date', v: 'yesterday' }, 'invalid payload for tag "date" at $'],
    [{ $tw: 'date' }, 'malformed tagged value'],
    [{ $tw: 'bigint', v: '1.5' }, 'invalid payload for tag "bigint"'],
    [{ $tw: 'bigint', v: 1 }, 'invalid payload for tag "bigint"'],
    [{ x: { $tw: 'bytes', v: 'a!==' } }, 'invalid payload for tag "bytes" at $.x'],
    [{ $tw: 'object', v: [1] }, 'invalid payload for tag "object"'],
    [{ $tw: 'date', v: '2020-01-01', extra: 1 }, 'malformed tagged value'],
  ] as [Json, string][])('rejects %j', (json, message) => {
    expect(() => decodeValue(json)).toThrow(DecodeError);
    expect(() => decodeValue(json)).toThrow(message);
  });

  it('rejects too deep nesting without overflowing the stack', () => {
    expect(() => decodeValue(JSON.parse('['.repeat(10_000) + ']'.repeat(10_000)) as Json)).toThrow(
      /nesting deeper than 100 levels/,
    );
  });
});

/** JSON-like values with dates, bigints, bytes, undefined fields and `$tw` keys. */
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.string(),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom('$tw', 'v', 'a b')).filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k)),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
}));

describe('round trip property', () => {
  it('encode -> JSON text -> decode gives back an equal value', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        expect(roundTrip(value)).toEqual(value);
      }),
    );
  });

  it('leaves plain JSON untouched (same reference)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue().filter((v) => !/"(__proto__|constructor|prototype|\$tw)"/.test(JSON.stringify(v))),
        (json) => {
          expect(encodeValue(json, WHERE)).toBe(json);
          expect(decodeValue(json as Json)).toBe(json);
        },
      ),
    );
  });
});
