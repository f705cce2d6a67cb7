/**
 * The coordinator's pipeline (src/coordinator/pipeline.ts): batch k+1 is
 * committed while batch k's dispatches wait for their confirm, never more
 * than two batches are in flight, a signal is acknowledged only once its step
 * is committed (and without waiting for the publish), and close() waits for
 * both batches in flight.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Fence, StepCommit, Store } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import type { Delivery, DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { deferred } from '../api/helpers.js';
import { stubTransport } from '../support/stub-transport.js';
import { until } from '../support/until.js';

const one = task('pl-one', { apply: () => 1 });
const two = task('pl-two', { apply: () => 2 });
const newRun = (id: string) => liveRun(createRun(flow('pl').add(one.s()).definition(), { id, inputs: {}, validate: true, now: Date.UTC(2026, 0, 1) }));
const chainRun = (id: string) => liveRun(createRun(flow('pl-chain').link(one.s(), two.s()).definition(), { id, inputs: {}, validate: true, now: Date.UTC(2026, 0, 1) }));

/** Lets every callback that is ready run (the memory store and the stubs answer within a few turns of the event loop). */
async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A memory store that logs its commits (`commit <run ids>`), each held while `hold` says so. */
function loggingStore(log: string[], hold: (runIds: string[]) => Promise<void> | undefined = () => undefined): Store {
  const inner = new MemoryStore();
  return Object.assign(Object.create(inner) as Store, {
    commit: async (commits: StepCommit[], fence?: Fence) => {
      const ids = commits.map((c) => c.run.id);
      await hold(ids);
      const result = await (inner as Store).commit(commits, fence);
      log.push(`commit ${ids.join(',')}`);
      return result;
    },
  });
}

/** A durable stub transport whose publishes of dispatches are held until their gate (`<run>/<node>`) opens; logs `publish <run>/<node>`. */
function heldPublishes(log: string[]) {
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const gate = (runId: string) => {
    let held = gates.get(runId);
    if (held === undefined) gates.set(runId, (held = deferred()));
    return held;
  };
  let onSignals: ((batch: Delivery<SignalMessage>[]) => void) | undefined;
  const transport = stubTransport({
    dispatch: async (messages: DispatchMessage[]) => {
      const ids = messages.map((m) => `${m.runId}/${m.node}`);
      log.push(`publish ${ids.join(',')}`);
      await Promise.all(ids.map((id) => gate(id).promise));
      log.push(`confirmed ${ids.join(',')}`);
    },
    consumeSignals: async (_options, handler) => {
      onSignals = handler;
      return { cancel: async () => undefined };
    },
  });
  return { transport, release: (id: string) => gate(id).resolve(), signal: (batch: Delivery<SignalMessage>[]) => onSignals?.(batch) };
}

describe('Coordinator pipeline', () => {
  it('commits batch k+1 while batch k waits for its confirm, with at most two batches in flight', async () => {
    const log: string[] = [];
    const { transport, release: releaseGate } = heldPublishes(log);
    const coordinator = new Coordinator({ store: loggingStore(log), transport, clock: new FakeClock() });
    const answered: string[] = [];
    const create = (id: string) => coordinator.create(newRun(id)).then(() => void answered.push(id));
    const release = (id: string) => releaseGate(`${id}/pl-one`);

    const a = create('a');
    await until(() => log.includes('publish a/pl-one'), 'the publish of batch 1');
    const b = create('b');
    // Batch 2 is committed while batch 1's publish is unconfirmed; batch 1's caller still waits.
    await until(() => log.includes('publish b/pl-one'), 'the publish of batch 2');
    expect(log).toEqual(['commit a', 'publish a/pl-one', 'commit b', 'publish b/pl-one']);
    expect(answered).toEqual([]);

    // Two batches in flight: a third waits for the first to be handed on.
    const c = create('c');
    await settled();
    expect(log).not.toContain('commit c');
    release('a');
    await a;
    await until(() => log.includes('commit c'), 'the commit of batch 3');
    expect(log.indexOf('confirmed a/pl-one')).toBeLessThan(log.indexOf('commit c'));
    release('b');
    release('c');
    await Promise.all([b, c]);
    expect(answered).toEqual(['a', 'b', 'c']);
    await coordinator.close();
  });

  it('acknowledges a signal once its step is committed, while its dispatches are being published', async () => {
    const log: string[] = [];
    const commitGate = deferred();
    let holdCommits = false;
    const { transport, release, signal } = heldPublishes(log);
    const store = loggingStore(log, () => (holdCommits ? commitGate.promise : undefined));
    const coordinator = new Coordinator({ store, transport, clock: new FakeClock() });
    await coordinator.start();
    release('r/pl-one');
    await coordinator.create(chainRun('r'));

    holdCommits = true;
    const body: SignalMessage = { type: 'task.succeeded', runId: 'r', node: 'pl-one', attempt: 1, worker: 'w', result: 1 };
    signal([{ body, redelivered: false, ack: () => log.push('ack'), requeue: () => log.push('requeue'), reject: () => log.push('reject') }]);
    await settled();
    expect(log).toEqual(['commit r', 'publish r/pl-one', 'confirmed r/pl-one']); // its step is not committed: no ack

    holdCommits = false;
    commitGate.resolve();
    await until(() => log.includes('ack'), 'the ack');
    // Acknowledged once committed, with the dispatch of the next node still unconfirmed
    // (that publish is written first: the next hop waits for it, not for the ack).
    expect(log.slice(3)).toEqual(['commit r', 'publish r/pl-two', 'ack']);
    release('r/pl-two');
    await until(() => log.includes('confirmed r/pl-two'), 'the confirm');
    expect((await store.loadRun('r'))?.nodes.get('pl-two')?.status).toBe('running');
    await coordinator.close();
  });

  it('close() waits for both batches in flight: the one committing and the one being published', async () => {
    const log: string[] = [];
    const commitGate = deferred();
    const { transport, release } = heldPublishes(log);
    const store = loggingStore(log, (ids) => (ids.includes('b') ? commitGate.promise : undefined));
    const coordinator = new Coordinator({ store, transport, clock: new FakeClock() });
    const a = coordinator.create(newRun('a'));
    await until(() => log.includes('publish a/pl-one'), 'the publish of batch 1');
    const b = coordinator.create(newRun('b'));

    let closed = false;
    const closing = coordinator.close().then(() => void (closed = true));
    await settled();
    expect(closed).toBe(false);
    release('a/pl-one');
    await a;
    await settled();
    expect(closed).toBe(false); // batch 2 is still committing
    commitGate.resolve();
    await until(() => log.includes('publish b/pl-one'), 'the publish of batch 2');
    await settled();
    expect(closed).toBe(false); // and then publishing
    release('b/pl-one');
    await closing;
    await b;
    expect(log).toEqual(['commit a', 'publish a/pl-one', 'confirmed a/pl-one', 'commit b', 'publish b/pl-one', 'confirmed b/pl-one']);
  });
});
