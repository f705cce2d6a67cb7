import { describe, expect, it } from 'vitest';
import { clonePlain } from '../../src/codec/clone.js';

describe('clonePlain', () => {
  it('copies plain data deeply: changing the copy leaves the original alone', () => {
    const original = { a: 1, b: [1, { c: 'x' }], d: { e: null, f: undefined }, g: true };
    const copy = clonePlain(original);
    expect(copy).toEqual(original);
    (copy.b[1] as { c: string }).c = 'changed';
    copy.d.e = 5 as never;
    expect(original).toEqual({ a: 1, b: [1, { c: 'x' }], d: { e: null, f: undefined }, g: true });
  });

  it('keeps a "__proto__" key as data, never as a prototype', () => {
    const original = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const copy = clonePlain(original);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
