/**
 * Embedded runs share one process with task code: the in-process transport
 * must not let a task change the run's state through an object it received
 * (its inputs, a rollback's result and error) or returned (its result, changed
 * after it returned). Each task below changes every such object it can reach;
 * the run must record, and pass on, the values as they were produced. And
 * the hand-over of signals must neither wait for an event-loop turn per hop
 * nor starve timers.
 */
import { afterEach, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { WAIT } from '../api/helpers.js';

let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

it('a task changing its inputs, or its result after returning it, changes nothing recorded or passed on', async () => {
  let returned: { list: number[] } | undefined;
  const make = task('iso-make', {
    provides: 'obj',
    apply: () => (returned = { list: [1] }),
  });
  const spoil = task('iso-spoil', {
    requires: ['obj'],
    provides: 'n',
    apply: ({ obj }: { obj: { list: number[] } }) => {
      obj.list.push(99);
      returned?.list.push(7);
      return obj.list.length;
    },
  });
  const read = task('iso-read', {
    requires: ['obj', 'n'],
    provides: 'seen',
    apply: ({ obj }: { obj: { list: number[] }; n: number }) => obj,
  });
  client = await connect({ store: 'memory', tasks: [make, spoil, read] });
  const a = make.s({}, { id: 'a' });
  const b = spoil.s({}, { id: 'b' });
  const c = read.s({}, { id: 'c' });
  const run = await client.start(flow('isolation').link(a, b).link(a, c).link(b, c));
  expect((await run.wait(WAIT)).status).toBe('succeeded');
  expect(await run.result('a')).toEqual({ list: [1] });
  expect(await run.result('b')).toBe(2);
  expect(await run.result('c')).toEqual({ list: [1] });
});

it('a rollback changing its result and error changes nothing recorded', async () => {
  const rolled: unknown[] = [];
  const undo = task('iso-undo', {
    provides: 'obj',
    apply: () => ({ list: [1] }),
    rollback: (_inputs, { result }) => {
      (result as { list: number[] }).list.push(5);
      rolled.push(result);
    },
  });
  const boom = task('iso-boom', { requires: ['obj'], apply: () => Promise.reject(new Error('boom')) });
  const fails = task('iso-fails', {
    rollback: (_inputs, { error }) => {
      if (error !== undefined) (error as { message: string }).message = 'changed';
    },
    apply: () => {
      throw new Error('own failure');
    },
  });
  client = await connect({ store: 'memory', tasks: [undo, boom, fails] });
  const a = undo.s({}, { id: 'a' });
  const run = await client.start(flow('isolation-undo', { onFailure: 'rollback' }).link(a, boom.s({}, { id: 'b' })).add(fails.s({}, { id: 'f' })));
  const done = await run.wait(WAIT);
  expect(rolled).toEqual([{ list: [1, 5] }]);
  expect(await run.result('a')).toEqual({ list: [1] });
  expect(done.nodes['f']?.error?.message).toBe('own failure');
});

it('hands signals over without an event-loop turn per hop, yet lets timers run during a long chain', async () => {
  const length = 1000;
  let executed = 0;
  const step = task('iso-step', { requires: ['v'], provides: 'v', apply: ({ v }: { v: number }) => (executed++, v + 1) });
  client = await connect({ store: 'memory', tasks: [step] });
  const nodes = Array.from({ length }, (_, i) => step.s(i === 0 ? { v: 0 } : {}, { id: `s${i}` }));
  const chain = nodes.slice(1).reduce((f, node, i) => f.link(nodes[i] as typeof node, node), flow('long-chain'));
  let turns = 0;
  let counting = true;
  const count = (): void => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  let executedAtTimer: number | undefined;
  const run = await client.start(chain);
  setTimeout(() => (executedAtTimer = executed), 1);
  const done = await run.wait(WAIT);
  counting = false;
  expect(done.status).toBe('succeeded');
  expect(executedAtTimer).toBeLessThan(length);
  // One turn per hop before; now one per FLUSHES_PER_TURN hops (and whatever else turns the loop).
  expect(turns).toBeLessThan(length / 4);
});
