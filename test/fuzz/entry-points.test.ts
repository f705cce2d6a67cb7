/**
 * Fuzzing the client's entry points end to end, embedded (issue 10, point 7):
 * raw flow definitions given to `start`, change lists given to a live run,
 * `notify` with hostile names and payloads. Each call gets a `TaskwireError`
 * with a code or works, and nothing is stranded: no node stays `running`
 * with nothing executing it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, event, flow, task, type Client, type FlowDefinition, type RunHandle } from '../../src/index.js';
import { hostileJson, LONG, mutated, nameArb, outcomeAsync, params, RUNS } from './fuzz.js';

const add = task('add', { requires: ['x'], optional: ['y'], apply: ({ x }: { x: number; y?: number }) => (typeof x === 'number' ? x + 1 : 0) });
const retry = { limit: 0, initialDelayMs: 1, factor: 2, maxDelayMs: 10, jitter: 0 };
const node = { id: 'a', kind: 'task', name: 'add', bound: { x: 1 }, requires: ['x'], optional: ['y'], provides: ['add'], persistent: false, rollback: false, retry, timeoutMs: 0, queue: 'default' };

/** End-to-end targets are slower: a quarter of the CI budget; the whole budget in long mode. */
const E2E_RUNS = LONG ? RUNS : Math.max(20, Math.floor(RUNS / 4));

/** No node is `running` once the in-process worker has had time to run it (its tasks are instant). */
async function expectNothingStranded(run: RunHandle): Promise<void> {
  await vi.waitFor(
    async () => {
      const status = await run.status();
      const running = Object.entries(status.nodes).filter(([, view]) => view.status === 'running');
      expect(running.map(([id]) => id)).toEqual([]);
    },
    { timeout: 5000, interval: 5 },
  );
}

/**
 * Inputs served by one client before it is closed and replaced by a fresh one.
 * Every input leaves its run in the client's memory store and `notify` scans the
 * live runs, so with one client for the whole file each later input pays for
 * all earlier ones (quadratic: 100,000 inputs did not finish in 30 minutes).
 * A fresh client every few thousand inputs keeps the cost per input flat. The
 * CI budget stays well below this: one client for the whole file, as before.
 */
const INPUTS_PER_CLIENT = 2000;

describe('fuzz: client entry points (embedded)', () => {
  let current: Client | undefined;
  let served = 0;
  let clients = 0;
  const startedAt = Date.now();

  /** The client for the next input: a fresh one once the current one has served {@link INPUTS_PER_CLIENT} inputs. */
  async function clientForInput(): Promise<Client> {
    if (current === undefined || served === INPUTS_PER_CLIENT) {
      await current?.close();
      current = await connect({ store: 'memory', tasks: [add] });
      served = 0;
      clients += 1;
      if (LONG && clients > 1) console.log(`fuzz e2e: client ${clients} after ${(clients - 1) * INPUTS_PER_CLIENT} inputs, ${Math.round((Date.now() - startedAt) / 1000)} s`);
    }
    served += 1;
    return current;
  }

  beforeAll(async () => {
    await clientForInput();
    served = 0;
  });
  afterAll(async () => {
    await current?.close();
  });

  it('start() with raw definitions', async () => {
    const nodeArb = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(nameArb, fc.constantFrom('add', 'unknown-task'), fc.boolean()).map(([id, name, persistent]) => ({ ...node, id, name, persistent })) },
      { weight: 1, arbitrary: fc.tuple(nameArb, nameArb).map(([id, name]) => ({ ...node, id, kind: 'event', name, requires: [], optional: [], provides: undefined, bound: {} })) },
      { weight: 2, arbitrary: mutated(node) },
      { weight: 1, arbitrary: hostileJson },
    );
    const linkArb = fc.record({ from: nameArb, to: nameArb, map: fc.dictionary(nameArb, nameArb, { maxKeys: 1 }), inferred: fc.boolean() });
    const definitionArb = fc.record({ name: nameArb, nodes: fc.array(nodeArb, { maxLength: 4 }), links: fc.array(linkArb, { maxLength: 4 }), onFailure: fc.constantFrom('halt', 'rollback') });
    await fc.assert(
      fc.asyncProperty(definitionArb, fc.boolean(), fc.dictionary(nameArb, hostileJson, { maxKeys: 2 }), async (definition, validate, inputs) => {
        const client = await clientForInput();
        const run = await outcomeAsync('start(raw definition)', () => client.start(definition as unknown as FlowDefinition, inputs, { validate }));
        if (run !== undefined) await expectNothingStranded(run);
      }),
      { ...params(E2E_RUNS), timeout: 4000, endOnFailure: true },
    );
  });

  it('change() with raw change lists on a live run', async () => {
    // One event name per run, so that each notify reaches its own run only (earlier runs may still listen).
    let runs = 0;
    const changeArb = fc.oneof(
      mutated({ op: 'add', node: { ...node, id: 'n2' }, sources: [{ node: 'fz-ev' }] }),
      mutated({ op: 'link', from: 'fz-ev', to: 'a', map: {} }),
      mutated({ op: 'unlink', from: 'fz-ev', to: 'listener' }),
      mutated({ op: 'relink', node: 'listener', from: 'fz-ev', to: 'a' }),
      mutated({ op: 'replace', node: 'a', with: { bound: { x: 2 } } }),
      mutated({ op: 'retry', node: 'a' }),
      mutated({ op: 'skip', node: 'a', result: 1 }),
      mutated({ op: 'remove', node: 'a' }),
      fc.constantFrom({ op: 'stop' }, { op: 'cancel' }),
      hostileJson,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(changeArb, { minLength: 1, maxLength: 4 }), fc.dictionary(nameArb, hostileJson, { maxKeys: 2 }), async (changes, payload) => {
        const client = await clientForInput();
        const ev = event(`fz-ev-${runs++}`, { id: 'fz-ev' });
        const run = await client.start(flow('fz-live').link(ev, add.s({ x: 1 }, { id: 'listener', persistent: true })).add(add.s({ x: 1 }, { id: 'a' })));
        for (const change of changes) await outcomeAsync('change(raw)', () => run.change(change as never));
        await outcomeAsync('notify(payload)', () => client.notify('fz-ev', payload));
        await expectNothingStranded(run);
        await outcomeAsync('cancel', () => run.change({ op: 'cancel' }));
      }),
      params(E2E_RUNS),
    );
  });

  it('notify() with hostile event names and payloads', async () => {
    await fc.assert(
      fc.asyncProperty(nameArb, hostileJson, async (name, payload) => {
        const client = await clientForInput();
        await outcomeAsync('notify(name, payload)', () => client.notify(name, payload as Record<string, unknown>));
      }),
      params(E2E_RUNS),
    );
  });
});
