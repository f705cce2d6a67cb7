/**
 * The store contract of {@link Store.gates} (flow-control gates), part of
 * `storeContract`: every adapter keeps the same lines, admits in the same
 * order within the same limits, and is idempotent where the engine relies on it.
 */
import { describe, expect, it } from 'vitest';
import type { GateRef, GateWaiter } from '../../src/store/gates.js';
import type { Store } from '../../src/store/port.js';
import { freshStore, type StoreFactory } from './fresh-store.js';

const waiter = (node: string, extra: Partial<GateWaiter> = {}): GateWaiter => ({ gate: 'g', runId: 'r1', node, attempt: 1, priority: 1, concurrency: 2, ...extra });
const ref = ({ gate, runId, node, attempt }: GateRef): GateRef => ({ gate, runId, node, attempt });
const nodes = (refs: readonly GateRef[]): string[] => refs.map((r) => r.node);

/** Defines the gates contract for one adapter (called by `storeContract`). */
export function gatesContract(factory: StoreFactory): void {
  describe('gates', () => {
    let store: Store;
    freshStore(factory, (made) => (store = made));

    it('admits in line order up to the concurrency limit, and the next ones as permits come back', async () => {
      const gates = store.gates();
      await gates.wait([waiter('a'), waiter('b'), waiter('c')]);
      expect(await gates.waiting()).toEqual(['g']);
      const first = await gates.admit('g', 1000);
      expect(nodes(first.admitted)).toEqual(['a', 'b']);
      expect(first.retryAt).toBeUndefined();
      expect((await gates.admit('g', 1001)).admitted).toEqual([]);
      expect(nodes(await gates.permits()).sort()).toEqual(['a', 'b']);
      await gates.release([ref(waiter('a'))]);
      expect(nodes((await gates.admit('g', 1002)).admitted)).toEqual(['c']);
      expect(await gates.waiting()).toEqual([]);
    });

    it('admits higher priorities first, then in the order they joined', async () => {
      const gates = store.gates();
      await gates.wait([waiter('low', { priority: 0, concurrency: 1 }), waiter('n1', { concurrency: 1 }), waiter('high', { priority: 2, concurrency: 1 })]);
      await gates.wait([waiter('n2', { concurrency: 1 })]);
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { admitted } = await gates.admit('g', 1000 + i);
        order.push(...nodes(admitted));
        await gates.release(admitted);
      }
      expect(order).toEqual(['high', 'n1', 'n2', 'low']);
    });

    it('keeps one entry per execution: joining twice, or after admission, changes nothing; releasing twice neither', async () => {
      const gates = store.gates();
      await gates.wait([waiter('a', { concurrency: 1 })]);
      await gates.wait([waiter('a', { concurrency: 1 }), waiter('b', { concurrency: 1 })]);
      expect(nodes((await gates.admit('g', 1)).admitted)).toEqual(['a']);
      await gates.wait([waiter('a', { concurrency: 1 })]); // a resume asking again for an admitted execution
      await gates.release([ref(waiter('a'))]);
      await gates.release([ref(waiter('a'))]);
      expect(nodes((await gates.admit('g', 2)).admitted)).toEqual(['b']);
      expect(await gates.waiting()).toEqual([]);
    });

    it('gives back a place in line: a released waiter is never admitted', async () => {
      const gates = store.gates();
      await gates.wait([waiter('a', { concurrency: 1 }), waiter('b', { concurrency: 1 })]);
      await gates.release([ref(waiter('a'))]);
      expect(nodes((await gates.admit('g', 1)).admitted)).toEqual(['b']);
    });

    it('holds a rate: at most count admissions in any perMs, and says when the next may go', async () => {
      const gates = store.gates();
      const rate = { count: 2, perMs: 100 };
      await gates.wait(['a', 'b', 'c', 'd'].map((node) => waiter(node, { rate, concurrency: undefined })));
      const first = await gates.admit('g', 1000);
      expect(nodes(first.admitted)).toEqual(['a', 'b']);
      expect(first.retryAt).toBe(1100);
      expect((await gates.admit('g', 1099)).admitted).toEqual([]);
      expect(nodes((await gates.admit('g', 1100)).admitted)).toEqual(['c', 'd']);
    });

    it('keeps gates apart', async () => {
      const gates = store.gates();
      await gates.wait([waiter('a', { gate: 'x', concurrency: 1 }), waiter('b', { gate: 'y', concurrency: 1 })]);
      expect((await gates.waiting()).sort()).toEqual(['x', 'y']);
      expect(nodes((await gates.admit('x', 1)).admitted)).toEqual(['a']);
      expect(nodes((await gates.admit('y', 1)).admitted)).toEqual(['b']);
    });
  });
}
