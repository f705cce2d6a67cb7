/**
 * Validation at start (on by default, can be turned off): cycles with their
 * path, missing inputs, unknown tasks, tasks sharing a name, inputs the codec
 * refuses. A refused flow starts nothing. Runs against every backend.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it, onTestFinished } from 'vitest';
import { flow, task, type FlowDefinition, type ValidationError } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, deferred, rejection } from './helpers.js';

describeBackends('validation at start', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  let applied = 0;
  const a = task('v-a', { apply: () => void applied++ });
  const b = task('v-b', { apply: () => void applied++ });
  const needsX = task('v-needs-x', { requires: ['x'], apply: ({ x }: { x: number }) => x });
  const cyclic = () => {
    const na = a.s();
    const nb = b.s();
    return flow('cyclic').link(na, nb).link(nb, na);
  };

  it('refuses a cycle, naming its path, and starts nothing', async () => {
    const tw = await backend.connect({ tasks: [a, b] });
    const id = randomUUID();
    const error = (await rejection(tw.start(cyclic(), {}, { id }))) as ValidationError;
    expect(error.code).toBe('TW_CYCLE');
    expect(error.problems).toEqual([expect.objectContaining({ kind: 'cycle', nodes: ['v-a', 'v-b', 'v-a'] })]);
    expect(error.message).toContain('"v-a" -> "v-b" -> "v-a"');
    expect((await rejection(tw.run(id).status())).code).toBe('TW_UNKNOWN_RUN');
    expect(applied).toBe(0);
  });

  it('refuses a live change that would make a cycle, naming the cycle\'s real path', async () => {
    const gate = deferred();
    const hold = task('v-hold', { apply: () => gate.promise });
    const step = (name: string) => task(name, { apply: () => name });
    const [s1, s2, s3, extra] = ['v-s1', 'v-s2', 'v-s3', 'v-extra'].map(step) as [ReturnType<typeof step>, ReturnType<typeof step>, ReturnType<typeof step>, ReturnType<typeof step>];
    const [n1, n2, n3] = [s1.s(), s2.s(), s3.s()];
    const tw = await backend.connect({ tasks: [hold, s1, s2, s3, extra] });
    const run = await tw.start(flow('chain').link(hold.s(), n1).link(n1, n2).link(n2, n3));
    onTestFinished(() => gate.resolve());
    const linked = (await rejection(run.link('v-s3', 'v-s1'))) as ValidationError;
    expect(linked.code).toBe('TW_CYCLE');
    expect(linked.problems).toEqual([expect.objectContaining({ kind: 'cycle', nodes: ['v-s3', 'v-s1', 'v-s2', 'v-s3'] })]);
    expect(linked.message).toContain('"v-s3" -> "v-s1" -> "v-s2" -> "v-s3"');
    const added = (await rejection(run.add(extra.s(), { sources: ['v-s3'], listeners: ['v-s1'] }))) as ValidationError;
    expect(added.code).toBe('TW_CYCLE');
    expect(added.problems).toEqual([expect.objectContaining({ kind: 'cycle', nodes: ['v-s3', 'v-extra', 'v-s1', 'v-s2', 'v-s3'] })]);
    expect(added.message).toContain('"v-s3" -> "v-extra" -> "v-s1" -> "v-s2" -> "v-s3"');
    gate.resolve();
    expect((await run.wait(WAIT)).status).toBe('succeeded');
  });

  it('refuses a required input that nothing provides, and accepts it as a flow input', async () => {
    const tw = await backend.connect({ tasks: [needsX] });
    const id = randomUUID();
    const error = (await rejection(tw.start(flow('missing').add(needsX.s()), {}, { id }))) as ValidationError;
    expect(error.code).toBe('TW_VALIDATION');
    expect(error.problems).toEqual([expect.objectContaining({ kind: 'missing-input', nodes: ['v-needs-x'] })]);
    expect(error.message).toContain('"x"');
    expect((await rejection(tw.run(id).status())).code).toBe('TW_UNKNOWN_RUN');

    const run = await tw.start(flow('missing').add(needsX.s()), { x: 7 });
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result('v-needs-x')).toBe(7);
  });

  it('refuses two different tasks under one name (only names travel), and starts nothing', async () => {
    const impostor = task('v-a', { apply: () => 'not the real v-a' });
    const tw = await backend.connect({ tasks: [a] });
    const both = flow('one-name-two-tasks').add(a.s(), impostor.s({}, { id: 'v-impostor' }));
    expect((await rejection(tw.start(both))).code).toBe('TW_CONFIG');
    expect((await rejection(tw.start(flow('impostor').add(impostor.s())))).code).toBe('TW_CONFIG'); // v-a is registered already
    expect(await tw.runs({ flow: 'one-name-two-tasks' })).toEqual([]);
    expect(applied).toBe(0);
  });

  it('refuses flow inputs that cannot be encoded, with TW_ENCODE, and starts nothing', async () => {
    const tw = await backend.connect({ tasks: [needsX] });
    const id = randomUUID();
    const error = await rejection(tw.start(flow('bad-inputs').add(needsX.s()), { x: new Map() }, { id }));
    expect(error.code).toBe('TW_ENCODE');
    expect(error.message).toContain('Map');
    expect((await rejection(tw.run(id).status())).code).toBe('TW_UNKNOWN_RUN');
  });

  // Known tasks: this process's registry and the store's catalog (what workers published).
  it('refuses a JSON definition naming a task that is not registered', async () => {
    const definition = JSON.parse(JSON.stringify(flow('unknown').link(a.s(), needsX.s({ x: 1 })))) as FlowDefinition;
    const tw = await backend.connect({ tasks: [a] });
    const id = randomUUID();
    const error = (await rejection(tw.start(definition, {}, { id }))) as ValidationError;
    expect(error.code).toBe('TW_VALIDATION');
    expect(error.problems).toEqual([expect.objectContaining({ kind: 'unknown-task', nodes: ['v-needs-x'] })]);
    expect(error.message).toContain('v-needs-x');
    expect((await rejection(tw.run(id).status())).code).toBe('TW_UNKNOWN_RUN');
    expect(applied).toBe(0);
  });

  it('with validate: false, fails a node whose task no worker knows with TW_UNKNOWN_TASK, without retrying', async () => {
    const definition = JSON.parse(JSON.stringify(flow('unregistered').add(a.s({}, { retry: { limit: 2, initialDelayMs: 5 } })))) as FlowDefinition;
    const node = definition.nodes[0];
    if (node === undefined) throw new Error('no node');
    node.name = 'v-nobody-knows-me';
    const tw = await backend.connect({ tasks: [a] });
    const run = await tw.start(definition, {}, { validate: false });
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(done.nodes['v-a']).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_UNKNOWN_TASK', retryable: false } });
    expect(done.nodes['v-a']?.error?.message).toContain('v-nobody-knows-me');
    expect(applied).toBe(0);
  });

  it('with validate: false, lets a missing input start; the run stalls and status() names the input', async () => {
    const tw = await backend.connect({ tasks: [needsX] });
    const run = await tw.start(flow('missing-unvalidated').add(needsX.s()), {}, { validate: false });
    const done = await run.wait(WAIT);
    expect(done.status).toBe('stalled');
    expect(done.nodes['v-needs-x']).toMatchObject({ status: 'waiting', attempt: 0, waitingFor: { sources: [], inputs: ['x'] } });
    expect(done.cycle).toBeUndefined();
  });

  it('with validate: false, lets a cycle start; the run stalls and status() reports the cycle', async () => {
    const tw = await backend.connect({ tasks: [a, b] });
    const run = await tw.start(cyclic(), {}, { validate: false });
    const done = await run.wait(WAIT);
    expect(done.status).toBe('stalled');
    expect(done.cycle).toHaveLength(3);
    expect(done.cycle?.[0]).toBe(done.cycle?.[2]);
    expect([...new Set(done.cycle)].sort()).toEqual(['v-a', 'v-b']);
    expect(done.nodes['v-a']).toMatchObject({ status: 'waiting', waitingFor: { sources: ['v-b'] } });
    expect(done.nodes['v-b']).toMatchObject({ status: 'waiting', waitingFor: { sources: ['v-a'] } });
    expect(applied).toBe(0);
  });
});
