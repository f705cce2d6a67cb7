/** The pieces of AMQP batching that need no broker: packing, settling a batch by its items, the concurrency gate, gathering signals. */
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/transport/port.js';
import { Gate, pack, resolveBatchOptions, splitSettle } from '../../src/transport/amqp/batch.js';
import { Coalescer } from '../../src/transport/amqp/coalesce.js';
import type { Outcome } from '../../src/transport/amqp/consume.js';
import { until } from '../support/until.js';

function deliveryOf(n: number, log: string[]): Delivery<number> {
  return { body: n, redelivered: false, ack: () => void log.push(`ack ${n}`), requeue: () => void log.push(`requeue ${n}`), reject: () => void log.push(`reject ${n}`) };
}

describe('AMQP batches', () => {
  it('packs items by count and size: one item as itself, several as a JSON array', () => {
    const items = Array.from({ length: 5 }, (_, n) => ({ n }));
    expect(pack(items, 2, 1024)).toEqual(['[{"n":0},{"n":1}]', '[{"n":2},{"n":3}]', '{"n":4}']);
    expect(pack(items, 10, 20)).toEqual(['[{"n":0},{"n":1}]', '[{"n":2},{"n":3}]', '{"n":4}']); // 17 bytes fit, 25 do not
    expect(() => pack([{ text: 'x'.repeat(100) }], 10, 50)).toThrow(/exceeds the limit of 50 bytes/);
  });

  it('settles a message once all its items are: ack, requeue or reject whole, the rest republished', async () => {
    const run = async (outcomes: Outcome[]): Promise<{ settled: Outcome[]; partial: [number[], number[]][] }> => {
      const settled: Outcome[] = [];
      const partial: [number[], number[]][] = [];
      const settles = splitSettle(outcomes.length, (o) => void settled.push(o), async (requeued, rejected) => void partial.push([requeued, rejected]));
      outcomes.forEach((outcome, i) => {
        settles[i]?.(outcome);
        settles[i]?.('reject'); // a second settle of an item is ignored
      });
      await Promise.resolve();
      return { settled, partial };
    };
    expect(await run(['ack', 'ack', 'ack'])).toEqual({ settled: ['ack'], partial: [] });
    expect(await run(['requeue', 'requeue'])).toEqual({ settled: ['requeue'], partial: [] });
    expect(await run(['reject', 'reject'])).toEqual({ settled: ['reject'], partial: [] });
    expect(await run(['ack', 'requeue', 'reject', 'requeue'])).toEqual({ settled: ['ack'], partial: [[[1, 3], [2]]] });
    const settled: Outcome[] = [];
    const [a, b] = splitSettle(2, (o) => void settled.push(o), () => Promise.reject(new Error('broker gone')));
    a?.('ack');
    expect(settled).toEqual([]);
    b?.('reject');
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual(['requeue']); // the republish failed: the whole message comes back
  });

  it('hands on at most `limit` deliveries at once, in order, and gives back those waiting when cancelled', () => {
    const log: string[] = [];
    const held: Delivery<number>[] = [];
    const gate = new Gate<number>(2, (d) => void held.push(d));
    for (let n = 0; n < 5; n++) gate.admit(deliveryOf(n, log));
    expect(held.map((d) => d.body)).toEqual([0, 1]);
    held[0]?.ack();
    held[0]?.ack(); // settling twice frees one slot only
    expect(held.map((d) => d.body)).toEqual([0, 1, 2]);
    held[1]?.requeue();
    expect(held.map((d) => d.body)).toEqual([0, 1, 2, 3]);
    gate.cancel();
    expect(log).toEqual(['ack 0', 'ack 0', 'requeue 1', 'requeue 4']);
  });

  it('gathers items until the count, or the delay while a publish awaits its confirm, else until the next turn', async () => {
    const published: number[][] = [];
    const confirms: (() => void)[] = [];
    const coalescer = new Coalescer<number>(3, 20, (items) => {
      published.push(items);
      if (items.includes(-1)) return Promise.reject(new Error('nacked'));
      return new Promise<void>((resolve) => confirms.push(resolve));
    });
    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const first = [coalescer.add([1]), coalescer.add([2, 3])];
    expect(published).toEqual([[1, 2, 3]]); // full: published at once
    // That publish awaits its confirm: a new item waits for others, up to the delay.
    const second = coalescer.add([4]);
    await nextTurn();
    expect(published).toHaveLength(1);
    await until(() => published.length === 2 || undefined, 'the delay');
    expect(published[1]).toEqual([4]);
    for (const confirm of confirms) confirm();
    await Promise.all([...first, second]);
    // Nothing awaits a confirm: a lone item goes out at the next turn.
    const lone = coalescer.add([5]);
    await nextTurn();
    expect(published[2]).toEqual([5]);
    confirms[2]?.();
    await lone;
    await expect(Promise.all([coalescer.add([6]), coalescer.add([-1])])).rejects.toThrow('nacked');
  });

  it('fails only the call whose item cannot be encoded', async () => {
    const published: number[][] = [];
    const coalescer = new Coalescer<number>(10, 0, (items) => {
      if (items.includes(666)) throw new Error('too large');
      published.push(items);
      return Promise.resolve();
    });
    const [good, bad, other] = [coalescer.add([1]), coalescer.add([666]), coalescer.add([2, 3])];
    await expect(bad).rejects.toThrow('too large');
    await Promise.all([good, other]);
    expect(published).toEqual([[1], [2, 3]]);
  });

  it('checks the batch options', () => {
    expect(resolveBatchOptions()).toEqual({ signals: 64, signalDelayMs: 1, dispatches: 8 });
    expect(() => resolveBatchOptions({ signals: 0 })).toThrow(/batch.signals 0: expected an integer from 1 to 65535/);
    expect(() => resolveBatchOptions({ signalDelayMs: 1.5 })).toThrow(/batch.signalDelayMs/);
  });
});
