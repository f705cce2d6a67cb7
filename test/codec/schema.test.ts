import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Json, JsonObject } from '../../src/codec/json.js';
import {
  array,
  boolean,
  check,
  integer,
  json,
  jsonObject,
  literal,
  nullable,
  number,
  object,
  optional,
  record,
  string,
  type Infer,
  type Schema,
} from '../../src/codec/schema.js';
import { DecodeError } from '../../src/errors.js';

const Dispatch = object({
  runId: string({ minLength: 1 }),
  attempt: integer({ min: 1 }),
  inputs: jsonObject(),
  activation: optional(integer()),
  kind: literal('apply', 'rollback'),
  meta: optional(object({ tags: array(nullable(string())) })),
});

const valid = { runId: 'r1', attempt: 1, inputs: { a: [1, { b: null }] }, kind: 'apply' };

/** The message of the DecodeError thrown by `check`. */
function failure<T>(schema: Schema<T>, value: unknown, what = 'dispatch message'): string {
  try {
    check(schema, value, what);
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('TW_DECODE');
    return (error as DecodeError).message;
  }
  throw new Error('expected a DecodeError');
}

describe('check', () => {
  it('infers the checked type, with optional fields', () => {
    type Dispatch = Infer<typeof Dispatch>;
    expectTypeOf<Dispatch>().toEqualTypeOf<{
      runId: string;
      attempt: number;
      inputs: JsonObject;
      kind: 'apply' | 'rollback';
      activation?: number | undefined;
      meta?: { tags: (string | null)[] } | undefined;
    }>();
    expectTypeOf(check(Dispatch, valid, 'x').kind).toEqualTypeOf<'apply' | 'rollback'>();
  });

  it('names the field, what was expected and what was received', () => {
    expect(failure(Dispatch, { ...valid, attempt: 'x' })).toBe(
      'invalid dispatch message: field "attempt" expected an integer >= 1, got "x" (string)',
    );
    expect(failure(Dispatch, { ...valid, attempt: 0 })).toContain('field "attempt" expected an integer >= 1, got 0 (number)');
    expect(failure(Dispatch, { ...valid, runId: undefined })).toContain(
      'field "runId" expected a non-empty string, got undefined (missing)',
    );
    expect(failure(Dispatch, { ...valid, kind: 'x' })).toContain('field "kind" expected one of "apply", "rollback"');
    expect(failure(Dispatch, { ...valid, meta: { tags: ['a', 1] } })).toContain(
      'field "meta.tags[1]" expected a string or null, got 1 (number)',
    );
    expect(failure(Dispatch, { ...valid, activation: 1.5 })).toContain(
      'field "activation" expected an integer or nothing, got 1.5 (number)',
    );
    expect(failure(Dispatch, [valid])).toBe('invalid dispatch message: expected an object, got an array of 1 items');
    expect(failure(Dispatch, null)).toBe('invalid dispatch message: expected an object, got null');
  });

  it('returns a fresh object with only the known, present fields', () => {
    const input = { ...valid, extra: { secret: 1 } };
    const out = check(Dispatch, input, 'dispatch message');
    expect(out).toEqual(valid);
    expect(out).not.toBe(input);
    expect(Object.keys(out)).not.toContain('activation');
    expect(Object.keys(out)).not.toContain('extra');
  });

  it('reads own fields only', () => {
    const S = object({ toString: optional(string()), constructor: optional(string()) });
    expect(check(S, {}, 'x')).toEqual({});
  });

  it('rethrows errors that are not schema mismatches', () => {
    const Boom: Schema<never> = {
      expected: 'boom',
      run: () => {
        throw new RangeError('boom');
      },
    };
    expect(() => check(object({ a: Boom }), {}, 'x')).toThrow(RangeError);
  });
});

describe('combinators', () => {
  it('string', () => {
    expect(check(string(), '', 'x')).toBe('');
    expect(failure(string({ minLength: 2, maxLength: 3 }), 'a', 'name')).toBe(
      'invalid name: expected a string of 2 to 3 characters, got "a" (string)',
    );
    expect(failure(string({ maxLength: 3 }), 'abcd')).toContain('a string of at most 3 characters');
    expect(failure(string({ maxLength: 10 }), 'x'.repeat(100))).toContain(`"${'x'.repeat(40)}…" (string)`);
  });

  it('integer and number', () => {
    expect(check(integer({ min: 0, max: 5 }), 5, 'x')).toBe(5);
    expect(failure(integer({ min: 0, max: 5 }), 6)).toContain('expected an integer >= 0 and <= 5, got 6 (number)');
    expect(failure(integer({ max: 5 }), '1')).toContain('expected an integer <= 5');
    expect(check(number(), -1.5, 'x')).toBe(-1.5);
    expect(failure(number(), Infinity)).toContain('expected a finite number, got Infinity (number)');
    expect(failure(number(), 1n)).toContain('got 1n (bigint)');
  });

  it('boolean, literal, nullable', () => {
    expect(check(boolean(), false, 'x')).toBe(false);
    expect(failure(boolean(), 'true')).toContain('expected a boolean, got "true" (string)');
    expect(check(literal(1, null), null, 'x')).toBeNull();
    expect(failure(literal('only'), 'other')).toContain('expected "only", got "other"');
    expect(check(nullable(integer()), null, 'x')).toBeNull();
  });

  it('array returns a fresh array', () => {
    const input = [1, 2];
    const out = check(array(integer()), input, 'x');
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
    expect(failure(array(integer()), { 0: 1 })).toContain('expected an array of an integer, got an object');
  });

  it('record checks every value and never sets a prototype', () => {
    const Counts = record(integer({ min: 0 }));
    expect(check(Counts, { a: 1, b: 2 }, 'x')).toEqual({ a: 1, b: 2 });
    expect(failure(Counts, { a: 1, 'b c': -1 })).toContain('field "b c" expected an integer >= 0, got -1');
    const out = check(Counts, JSON.parse('{"__proto__": 1}'), 'x');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(failure(Counts, new Map())).toContain('expected an object of an integer >= 0, got an object');
  });

  it('json checks the whole value and returns it as is', () => {
    const value = { a: [1, 'x', null, true, { b: {} }] };
    expect(check(json(), value, 'x')).toBe(value);
    expectTypeOf(check(json(), value, 'x')).toEqualTypeOf<Json>();
    expect(failure(json(), { a: [1, undefined] })).toContain('field "a[1]" expected a JSON value, got undefined');
    expect(failure(json(), { a: NaN })).toContain('field "a" expected a JSON value, got NaN (number)');
    expect(failure(json(), { d: new Date(0) })).toContain('field "d" expected a JSON value, got an object');
    expect(failure(json(), { f: () => 1 })).toContain('got a function');
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(failure(json(), deep)).toContain('nested at most');
  });

  it('jsonObject rejects non-objects', () => {
    expect(check(jsonObject(), {}, 'x')).toEqual({});
    expect(failure(jsonObject(), [])).toContain('expected a JSON object, got an array of 0 items');
    expect(failure(jsonObject(), 'x')).toContain('expected a JSON object');
  });
});
