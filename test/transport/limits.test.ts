/**
 * `surelyFits` lets producers skip encoding a message to measure it: it must
 * never say a message fits when its JSON does not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodedBytes, surelyFits } from '../../src/transport/limits.js';

describe('surelyFits', () => {
  it('never says that a message over the limit fits', () => {
    const value = fc.oneof(fc.jsonValue(), fc.anything({ withNullPrototype: true, withObjectString: true }), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('\u0000', '\u001f', '"', '\\', '\u2028') }));
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 400 }), (message, maxBytes) => {
        if (surelyFits(message, maxBytes)) expect(encodedBytes(message)).toBeLessThanOrEqual(maxBytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('says that a small message fits, and leaves a large or unusual one to be measured', () => {
    const dispatch = { type: 'dispatch', kind: 'apply', runId: 'r', node: 'a', attempt: 1, task: 't', inputs: { v: 1, list: [true, null, 'x'] }, timeoutMs: 0, queue: 'default' };
    expect(surelyFits(dispatch, 1024)).toBe(true);
    expect(surelyFits({ text: 'x'.repeat(200) }, 1024)).toBe(false);
    expect(surelyFits({ at: new Date(0) }, 1024)).toBe(false);
  });
});
