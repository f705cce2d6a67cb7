/**
 * Many flows at once on three worker processes (each also a coordinator):
 * fan-out/fan-in, chains, independent nodes, a persistent listener fed ten
 * notifications, and a run rewired while it runs. Everything succeeds and the
 * checker finds nothing lost and nothing recorded twice.
 */
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { brokenChainFlow, chainFlow, fanFlow, fixNode, listenerFlow, parallelFlow, SERVER_CREATED } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, until } from './harness.js';

describe.skipIf(servicesSkipped())('distributed: several worker processes', () => {
  const newCluster = clusterPerTest();

  it('runs 20 flows at once (fan-out 1→20→1, chains of 10, a persistent listener, a rewiring) to success', async () => {
    const cluster = await newCluster();
    await cluster.workers(3, { concurrency: 8 });
    const tw = await cluster.client();

    const runs: RunHandle[] = [];
    let base = 0;
    for (let k = 0; k < 6; k++, base += 22) runs.push(await tw.start(fanFlow(`fan-${k}`, 20, base)));
    const chains: RunHandle[] = [];
    for (let k = 0; k < 8; k++, base += 10) chains.push(await tw.start(chainFlow(`chain-${k}`, 10, base)));
    runs.push(...chains);
    for (let k = 0; k < 4; k++, base += 10) runs.push(await tw.start(parallelFlow(`parallel-${k}`, 10, base)));
    const listener = await tw.start(listenerFlow('listener', base));
    const rewired = await tw.start(brokenChainFlow('rewired', base + 20));

    // The persistent listener: ten notifications, ten activations, then stopped.
    await until(async () => (await listener.status()).status === 'listening', 'the listener run to listen', 30_000);
    const ips = Array.from({ length: 10 }, (_, k) => `10.9.0.${k + 1}`);
    for (const ip of ips) expect(await tw.notify(SERVER_CREATED, { ip })).toEqual([listener.id]);

    // The rewiring: the broken link fails the run; a new node and a relink finish it.
    const failed = await rewired.wait({ timeoutMs: 60_000 });
    expect(failed.status).toBe('failed');
    expect(failed.nodes['bad']?.error?.message).toContain('fault.broken always fails');
    await rewired.add(fixNode(base + 20), { sources: ['c0'] });
    await rewired.relink('c2', 'bad', 'fix');

    const activations = await until(
      async () => {
        const list = await listener.activations('listener');
        return list.filter((a) => a.status === 'succeeded').length === ips.length ? list : undefined;
      },
      'ten succeeded activations',
      60_000,
      100,
    );
    expect(activations.map((a) => a.inputs['ip'])).toEqual(ips);
    expect(activations.map((a) => a.result)).toEqual(ips.map((ip) => `pool:${ip}`));
    await listener.stop();

    for (const run of [...runs, listener, rewired]) {
      const done = await run.wait({ timeoutMs: 90_000 });
      expect(done.status, `run ${run.id}`).toBe('succeeded');
    }
    for (const chain of chains) expect(await chain.result('c9')).toBe(10);
    expect(await rewired.result('c2')).toBe(3);
    expect((await rewired.status()).nodes['bad']?.status).toBe('skipped');

    const result = await cluster.check(
      [...runs, listener, rewired].map((run) => run.id),
      { label: 'multi-process', failing: [`${rewired.id}/bad`] },
    );
    expect(result.runs).toBe(20);
    expect(result.nodes).toBe(6 * 22 + 8 * 10 + 4 * 10 + 10 + 4);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
    // No fault here: every body ran exactly once, on one of the three workers.
    expect(result.reExecutions).toEqual([]);
    const pids = new Set(cluster.records().map((r) => r.pid));
    expect(pids.size).toBeGreaterThan(1);
  });
});
