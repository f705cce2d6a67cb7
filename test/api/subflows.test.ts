/**
 * Subflows (`flow.s(inputs, { id, retry })`): a flow used as a node of
 * another. Its nodes are part of the run as `parent/child`, its inputs are
 * mapped in and what it provides mapped out, its failure policy is scoped to
 * it and it may be retried as a whole. Runs against every backend.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { flow, NonRetryableError, task } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT } from './helpers.js';

describeBackends('subflows', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('runs a flow as a node: inputs mapped in, provided values mapped out, nodes addressed as parent/child', async () => {
    const price = task('sf-price', { requires: ['qty', 'unit'], provides: ['price'], apply: ({ qty, unit }: { qty: number; unit: number }) => qty * unit });
    const tax = task('sf-tax', { requires: ['price', 'rate'], provides: ['total'], apply: ({ price, rate }: { price: number; rate: number }) => price * (1 + rate) });
    const order = task('sf-order', { provides: ['qty'], apply: () => 4 });
    const receipt = task('sf-receipt', { requires: ['total'], apply: ({ total }: { total: number }) => `total ${total}` });
    const pricing = flow('pricing').link(price.s(), tax.s());
    const checkout = flow('checkout');
    const sub = pricing.s({ unit: 5, rate: 0.5 }, { id: 'pricing' });
    checkout.link(order.s(), sub).link(sub, receipt.s());
    const tw = await backend.connect({ tasks: [price, tax, order, receipt] });
    const run = await tw.start(checkout, {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['pricing/sf-price']).toMatchObject({ status: 'succeeded', result: 20 });
    expect(done.nodes['pricing/sf-tax']).toMatchObject({ status: 'succeeded', result: 30 });
    expect(done.nodes['sf-receipt']).toMatchObject({ status: 'succeeded', result: 'total 30' });
    // The child is addressable in changes: a retry of a finished node is refused by name.
    await expect(run.retry('pricing/sf-tax')).rejects.toThrow(/pricing\/sf-tax/);
  });

  it('scopes a rollback policy to the subflow: its completed nodes are compensated, then it fails as one node', async () => {
    const undone: string[] = [];
    const reserve = task('sf-reserve', { apply: () => 'reserved', rollback: () => void undone.push('reserve') });
    const charge = task('sf-charge', {
      apply: () => {
        throw new NonRetryableError('card declined');
      },
    });
    const before = task('sf-before', { apply: () => 'before', rollback: () => void undone.push('before') });
    const payment = flow('payment', { onFailure: 'rollback' }).link(reserve.s(), charge.s());
    const outer = flow('shop'); // halt: the run stays failed, the nodes outside the subflow are not compensated
    const sub = payment.s({}, { id: 'pay' });
    outer.link(before.s(), sub);
    const tw = await backend.connect({ tasks: [reserve, charge, before] });
    const run = await tw.start(outer, {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(undone).toEqual(['reserve']);
    expect(done.nodes['pay/sf-reserve']).toMatchObject({ status: 'succeeded', undo: 'done' });
    expect(done.nodes['pay/sf-charge']).toMatchObject({ status: 'failed' });
    expect(done.nodes['sf-before']).toMatchObject({ status: 'succeeded' });
    expect(done.nodes['sf-before']?.undo).toBeUndefined();
    const scopeEntries = (await run.history()).filter((entry) => entry.type.startsWith('scope.'));
    expect(scopeEntries).toMatchObject([{ type: 'scope.failed', node: 'pay', attempt: 1, detail: { node: 'pay/sf-charge', compensated: true } }]);
  });

  it('retries a subflow as a whole (Times): compensates, runs it again, and the history shows each scope attempt', async () => {
    const calls: string[] = [];
    let charges = 0;
    const reserve = task('sf-r-reserve', {
      apply: () => void calls.push('reserve'),
      rollback: () => void calls.push('unreserve'),
    });
    const charge = task('sf-r-charge', {
      apply: () => {
        calls.push('charge');
        if (++charges < 3) throw new NonRetryableError(`declined ${charges}`);
        return 'paid';
      },
    });
    const payment = flow('payment-retry').link(reserve.s(), charge.s());
    const tw = await backend.connect({ tasks: [reserve, charge] });
    const run = await tw.start(flow('shop-retry').add(payment.s({}, { id: 'pay', retry: 2 })), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(calls).toEqual(['reserve', 'charge', 'unreserve', 'reserve', 'charge', 'unreserve', 'reserve', 'charge']);
    expect(done.nodes['pay/sf-r-charge']).toMatchObject({ status: 'succeeded', result: 'paid', attempt: 3 });
    const scopeEntries = (await run.history()).filter((entry) => entry.type.startsWith('scope.'));
    expect(scopeEntries.map((entry) => [entry.type, entry.node, entry.attempt])).toEqual([
      ['scope.retrying', 'pay', 2],
      ['scope.retrying', 'pay', 3],
    ]);
  });

  it('passes a subflow failure on to the run once its retries are used up (run policy rollback: the saga compensates the rest)', async () => {
    const undone: string[] = [];
    const first = task('sf-p-first', { apply: () => 1, rollback: () => void undone.push('first') });
    const inner = task('sf-p-inner', { apply: () => 2, rollback: () => void undone.push('inner') });
    const broken = task('sf-p-broken', {
      apply: () => {
        throw new NonRetryableError('broken');
      },
    });
    const sub = flow('inner-halt').link(inner.s(), broken.s()).s({}, { id: 'sub', retry: 1 });
    const outer = flow('outer-rollback', { onFailure: 'rollback' }).link(first.s(), sub);
    const tw = await backend.connect({ tasks: [first, inner, broken] });
    const run = await tw.start(outer, {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rolled_back');
    // The scope compensated `inner` before each of its two attempts ended; the saga then compensated `first` only.
    expect(undone).toEqual(['inner', 'inner', 'first']);
    const scopeEntries = (await run.history()).filter((entry) => entry.type.startsWith('scope.'));
    expect(scopeEntries.map((entry) => [entry.type, entry.attempt])).toEqual([
      ['scope.retrying', 2],
      ['scope.failed', 2],
    ]);
  });

  it('nests subflows: ids read outer/inner/node', async () => {
    const leaf = task('sf-leaf', { requires: ['n'], apply: ({ n }: { n: number }) => n + 1 });
    const innermost = flow('innermost').add(leaf.s());
    const middle = flow('middle').add(innermost.s({}, { id: 'b' }));
    const top = flow('top').add(middle.s({ n: 41 }, { id: 'a' }));
    const definition = top.definition();
    expect(definition.nodes.map((node) => [node.id, node.scope])).toEqual([['a/b/sf-leaf', 'a/b']]);
    expect(definition.scopes?.map((scope) => scope.id)).toEqual(['a', 'a/b']);
    const tw = await backend.connect({ tasks: [leaf] });
    const run = await tw.start(top, {}, { id: randomUUID() });
    const done = await run.wait(WAIT);
    expect(done.nodes['a/b/sf-leaf']).toMatchObject({ status: 'succeeded', result: 42 });
  });
});
