/**
 * Two processes starting on one store file at the same moment: each looks for
 * the file's live processes and writes its heartbeat row under the file's host
 * lock (src/cli/host-lock.ts), so the second sees the first. Without the lock,
 * both found the file free and both served it (both carried out its runs).
 * In one process: two stores on one file stand in for two processes.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkUnserved, startOnFile } from '../../src/cli/embedded-hosts.js';
import { withHostLock } from '../../src/cli/host-lock.js';
import { connect, task, type Client } from '../../src/index.js';
import { openStore } from '../../src/runtime/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-host-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hello = task('host-lock-hello', { apply: () => 'hi' });

describe('the host lock of a store file [sqlite]', () => {
  it('lets one of two serves starting at once serve the file; the other refuses', async () => {
    const file = join(dir, 'serve.db');
    const stores = [await openStore(file, { distributed: false }), await openStore(file, { distributed: false })];
    const outcomes = await Promise.allSettled(stores.map((store) => startOnFile(store, checkUnserved, () => connect({ store, tasks: [hello], resume: true }))));
    const served = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    try {
      expect(served).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]?.message).toContain(`${file} is already executed by taskwire serve (or a program connected with its tasks) (pid ${process.pid} on `);
      expect(existsSync(`${file}.lock`)).toBe(false);
    } finally {
      await Promise.all(served.map((client: Client) => client.close()));
    }
  });

  it('waits while another process holds it, and takes over a lock whose holder is gone', async () => {
    const file = join(dir, 'wait.db');
    const order: string[] = [];
    let release: () => void = () => undefined;
    const held = withHostLock(file, async () => {
      order.push('first in');
      await new Promise<void>((resolve) => (release = resolve));
      order.push('first out');
    });
    const second = withHostLock(file, async () => void order.push('second in'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([held, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);

    // A holder that died (no such pid on this host) left its lock: taken over.
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), at: Date.now() }));
    await expect(withHostLock(file, async () => 'taken')).resolves.toBe('taken');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
