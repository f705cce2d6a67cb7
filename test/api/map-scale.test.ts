/**
 * A map of 100,000 elements on the memory store: every child runs once, the
 * result is the list of their results in element order, and a collecting
 * listener receives it. Asserts completion and results, not timing; the cost
 * per element is flat (no step copies or scans the whole list per child).
 */
import { afterEach, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';

let tw: Client | undefined;
afterEach(async () => {
  await tw?.close();
  tw = undefined;
});

it('maps over 100,000 elements and collects every result in element order', { timeout: 120_000 }, async () => {
  const n = 100_000;
  let calls = 0;
  const list = task('scale-list', { provides: 'items', apply: () => Array.from({ length: n }, (_, i) => i) });
  const double = task('scale-double', {
    requires: ['items'],
    apply: ({ items }: { items: number }) => {
      calls++;
      return items * 2;
    },
  });
  const check = task('scale-check', {
    requires: ['values'],
    apply: ({ values }: { values: number[] }) => values.every((v, i) => v === i * 2) && values.length === n,
  });
  tw = await connect({ store: 'memory', tasks: [list, double, check] });
  const fan = double.s({}, { id: 'fan', each: 'items', concurrency: 1000 });
  const f = flow('scale').link(list.s(), fan).link(fan, check.s({}, { collect: 'values' }), { map: { values: 'scale-double' } });
  const run = await tw.start(f, {});
  const done = await run.wait({ timeoutMs: 110_000 });
  expect(done.status).toBe('succeeded');
  expect(calls).toBe(n);
  expect(done.nodes['scale-check']?.result).toBe(true);
  expect(done.nodes['fan']?.map).toMatchObject({ total: n, succeeded: n, pending: 0, children: {} });
});
