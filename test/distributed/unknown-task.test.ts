/**
 * A flow naming a task no worker has, started from its JSON definition by a
 * client that has none of the task code: the node fails (not retried) with an
 * error naming the task and the worker that took it; the run ends `failed`,
 * and the rest of the flow is unaffected.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { FlowDefinition, TaskwireError } from '../../src/index.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest } from './harness.js';

const retry = { limit: 2, initialDelayMs: 10, factor: 2, maxDelayMs: 100, jitter: 0 };
const node = (id: string, name: string, i: number) => ({
  id,
  kind: 'task',
  name,
  bound: { i },
  requires: ['i'],
  optional: [],
  provides: [name],
  persistent: false,
  rollback: false,
  retry,
  timeoutMs: 0,
  queue: 'default',
});

/** `first` → `ghost` (a task nobody registered), and `side` on its own: plain JSON, as another service would send it. */
const DEFINITION = JSON.stringify({
  name: 'unknown-task',
  onFailure: 'halt',
  nodes: [node('first', 'fault.work', 1), node('ghost', 'fault.ghost', 2), node('side', 'fault.work', 3)],
  links: [{ from: 'first', to: 'ghost', map: {}, inferred: false }],
});

describe.skipIf(servicesSkipped())('distributed: a task no worker has', () => {
  const newCluster = clusterPerTest();

  it('fails the node with an error naming the task and the worker; the run ends failed', async () => {
    const cluster = await newCluster();
    const workers = await cluster.workers(2, { concurrency: 4 });
    const tw = await cluster.client();
    const definition = JSON.parse(DEFINITION) as FlowDefinition;

    // Validated at start (the default), the flow is refused: no worker published "fault.ghost" in the catalog.
    const refused = await tw.start(definition).then(
      () => undefined,
      (error: unknown) => error as TaskwireError,
    );
    expect(refused?.code).toBe('TW_VALIDATION');
    expect(refused?.message).toContain('"fault.ghost"');

    // Started without validation, the worker that takes the node fails it.
    const run = await tw.start(definition, {}, { validate: false });
    const done = await run.wait({ timeoutMs: 60_000 });
    expect(done.status).toBe('failed');
    expect(done.nodes['first']?.status).toBe('succeeded');
    expect(done.nodes['side']?.status).toBe('succeeded');
    const ghost = done.nodes['ghost'];
    expect(ghost?.status).toBe('failed');
    expect(ghost?.attempt, 'an unknown task is not retried').toBe(1);
    expect(ghost?.error?.code).toBe('TW_UNKNOWN_TASK');
    expect(ghost?.error?.retryable).toBe(false);
    const message = ghost?.error?.message ?? '';
    expect(message).toContain('fault.ghost');
    const ids = workers.map((worker) => `${hostname()}/${worker.pid}`);
    expect(
      ids.some((id) => message.includes(id)),
      `"${message}" names one of the workers ${ids.join(', ')}`,
    ).toBe(true);
    console.log(`[unknown-task] ghost failed: ${message}`);

    const result = await cluster.check([run.id], { label: 'unknown task', failing: [`${run.id}/ghost`] });
    expect(result.nodes).toBe(3);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
    expect(cluster.records().filter((r) => r.node === 'ghost')).toEqual([]);
  });
});
