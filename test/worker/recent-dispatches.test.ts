/**
 * The worker's memory of finished dispatches is a least-recently-used cache:
 * checked against a plain reference model over random sequences of lookups and
 * insertions (many evictions, so that its kept iterator wraps around).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SignalMessage } from '../../src/transport/port.js';
import { RecentDispatches } from '../../src/worker/recent-dispatches.js';

/** The reference: evicts the first key of the map, whatever it costs. */
class ReferenceLru {
  private readonly map = new Map<string, SignalMessage>();
  constructor(private readonly capacity: number) {}
  get(key: string): SignalMessage | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  remember(key: string, value: SignalMessage): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
}

const signal = (attempt: number): SignalMessage => ({ type: 'rollback.succeeded', runId: 'r', node: 'n', attempt, worker: 'w' });

describe('RecentDispatches', () => {
  it('keeps and forgets exactly what a least-recently-used cache does', () => {
    const op = fc.record({ get: fc.boolean(), key: fc.nat(12) });
    fc.assert(
      fc.property(fc.nat(6), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const recent = new RecentDispatches(capacity);
        const reference = new ReferenceLru(capacity);
        ops.forEach(({ get, key }, i) => {
          if (get) expect(recent.get(String(key))).toBe(reference.get(String(key)));
          else {
            const value = signal(i);
            recent.remember(String(key), value);
            reference.remember(String(key), value);
          }
        });
        for (let key = 0; key <= 12; key++) expect(recent.get(String(key))).toBe(reference.get(String(key)));
      }),
      { numRuns: 300 },
    );
  });
});
