/**
 * Notifying events: a payload is checked against the fields the listening
 * runs' events declare. Runs against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { event, flow, task } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { eventually, rejection } from './helpers.js';

describeBackends('notify', (backend) => {
  afterEach(() => backend.cleanup());

  it('refuses a payload missing a declared field, naming it, and notifies no run', async () => {
    const seen: unknown[] = [];
    const register = task('n-register', { requires: ['ip', 'name'], apply: (inputs: { ip: string; name: string }) => void seen.push(inputs) });
    const created = event<{ ip: string; name: string }>('n-server.created', { provides: ['ip', 'name'] });
    const open = event('n-server.created', { id: 'open-created' });
    const tw = await backend.connect();
    const strict = await tw.start(flow('strict-listener').link(created, register.s({}, { persistent: true })));
    const loose = await tw.start(flow('open-listener').link(open, register.s({ name: 'bound' }, { persistent: true, id: 'loose' })));

    const error = await rejection(tw.notify('n-server.created', { ip: '10.0.0.1' }));
    expect(error.code).toBe('TW_VALIDATION');
    expect(error.message).toContain('"name"');
    expect(error.message).toContain('n-server.created');
    for (const run of [strict, loose]) {
      expect(await run.activations()).toEqual([]);
      expect((await run.history()).filter((entry) => entry.type.startsWith('event'))).toEqual([]);
    }

    expect((await tw.notify('n-server.created', { ip: '10.0.0.2', name: 'web' })).sort()).toEqual([strict.id, loose.id].sort());
    await eventually(() => expect(seen).toHaveLength(2));
  });

  it('notifications fired at once are checked one by one: only the one missing a field is refused', async () => {
    const seen: number[] = [];
    const count = task('n-count', { requires: ['i'], apply: ({ i }: { i: number }) => void seen.push(i) });
    const tw = await backend.connect();
    await tw.start(flow('burst-listener').link(event<{ i: number }>('n-burst', { provides: ['i'] }), count.s({}, { persistent: true })));
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => tw.notify('n-burst', i === 2 ? {} : { i })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((results[2] as PromiseRejectedResult).reason as Error).message).toContain('"i"');
    await eventually(() => expect(seen.sort()).toEqual([0, 1, 3]));
  });
});
