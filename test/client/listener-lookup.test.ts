/**
 * The listening event nodes of a turn's notifications, read in one store call
 * (W4: 10,000 notify calls fired at once were 10,000 queries and run loads).
 */
import { describe, expect, it } from 'vitest';
import { ListenerLookup } from '../../src/client/listener-lookup.js';
import { StoreError } from '../../src/errors.js';
import { connect, event, flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { EventListener } from '../../src/store/port.js';

/** A store whose `listeners` records each call and answers from `known`. */
function fakeStore(known: EventListener[], failing = false) {
  const calls: string[][] = [];
  return {
    calls,
    listeners: async (events: readonly string[]) => {
      calls.push([...events]);
      if (failing) throw new StoreError('down');
      return known.filter((l) => events.includes(l.event));
    },
  };
}

describe('ListenerLookup', () => {
  const a1: EventListener = { runId: 'r1', event: 'a', node: 'ev', provides: ['x'] };
  const a2: EventListener = { runId: 'r2', event: 'a', node: 'ev' };
  const b1: EventListener = { runId: 'r1', event: 'b', node: 'other' };

  it('asks the store once for the events asked in one turn, each caller getting its event\'s listeners', async () => {
    const store = fakeStore([a1, a2, b1]);
    const lookup = new ListenerLookup(store);
    const asked = [...Array.from({ length: 1000 }, () => lookup.of('a')), lookup.of('b'), lookup.of('c')];
    const answers = await Promise.all(asked);
    expect(store.calls).toEqual([['a', 'b', 'c']]);
    expect(answers[0]).toEqual([a1, a2]);
    expect(answers[999]).toEqual([a1, a2]);
    expect(answers.slice(1000)).toEqual([[b1], []]);
    await lookup.of('b');
    expect(store.calls).toHaveLength(2); // a later turn asks again
  });

  it('rejects every caller of the turn with the store\'s error', async () => {
    const lookup = new ListenerLookup(fakeStore([a1], true));
    const results = await Promise.allSettled([lookup.of('a'), lookup.of('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
  });
});

describe('Client.notify', () => {
  it('1,000 notifications fired at once read the listening runs in one store call and load no run', async () => {
    const store = new MemoryStore();
    const calls = { listeners: 0, loadRun: 0 };
    const listeners = store.listeners.bind(store);
    const loadRun = store.loadRun.bind(store);
    store.listeners = (events) => (calls.listeners++, listeners(events));
    store.loadRun = (runId) => (calls.loadRun++, loadRun(runId));
    const tw = await connect({ store });
    try {
      const sink = task('ll-sink', { requires: ['i'], apply: () => undefined });
      const run = await tw.start(flow('ll-burst').link(event('ll.tick', { provides: ['i'] }), sink.s({}, { persistent: true })));
      Object.assign(calls, { listeners: 0, loadRun: 0 });
      const notified = await Promise.all(Array.from({ length: 1000 }, (_, i) => tw.notify('ll.tick', { i })));
      expect(new Set(notified.flat())).toEqual(new Set([run.id]));
      expect(calls).toEqual({ listeners: 1, loadRun: 0 });
    } finally {
      await tw.close();
    }
  });
});
