/**
 * connect() refuses combinations that cannot work: a broker (distributed mode,
 * where workers and coordinators are other processes) with a store only this
 * process can see (SQLite, memory). Before, `taskwire run` printed
 * `node.queued` and hung.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';
import { rejection } from './helpers.js';

describe('connect() configuration checks', () => {
  const saved = process.env['TASKWIRE_BROKER_URL'];
  afterEach(() => {
    if (saved === undefined) delete process.env['TASKWIRE_BROKER_URL'];
    else process.env['TASKWIRE_BROKER_URL'] = saved;
  });

  it('refuses TASKWIRE_BROKER_URL with a SQLite store, with TW_CONFIG, before connecting to the broker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-config-'));
    try {
      process.env['TASKWIRE_BROKER_URL'] = 'amqp://guest:guest@127.0.0.1:1'; // nothing listens there
      const error = await rejection(connect({ store: join(dir, 'runs.db') }));
      expect(error.code).toBe('TW_CONFIG');
      expect(error.message).toMatch(/TASKWIRE_BROKER_URL/);
      expect(error.message).toMatch(/PostgreSQL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);

  it('refuses a broker with the memory store', async () => {
    const error = await rejection(connect({ broker: 'amqp://guest:guest@127.0.0.1:1', store: 'memory' }));
    expect(error.code).toBe('TW_CONFIG');
  }, 10_000);

  it('takes the worker\'s recentDispatches option (a runtime knob, not an unknown key)', async () => {
    const tw = await connect({ store: 'memory', recentDispatches: 0 });
    try {
      const add = task('add', { requires: ['x'], apply: ({ x }: { x: number }) => x + 1 });
      const run = await tw.start(flow('one').add(add.s({ x: 1 })));
      expect(await run.done()).toMatchObject({ status: 'succeeded' });
    } finally {
      await tw.close();
    }
  });
});
