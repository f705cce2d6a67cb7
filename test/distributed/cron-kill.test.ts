/**
 * A cron schedule under two coordinator processes (real RabbitMQ and
 * PostgreSQL; workers with `--no-coordinator`), and the coordinator that fires
 * it SIGKILLed across a tick, right after it logged a fire: the other one takes
 * the schedule's shard over and fires the following ticks. Every tick from the
 * first to the last has exactly one run (not zero, not two), each run's nodes
 * executed and recorded once.
 */
import { describe, expect, it } from 'vitest';
import { chainFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, kill, until, type Proc } from './harness.js';

const NAME = 'every-second';

/** The pids that logged firing a tick of the schedule, with the run ids they fired. */
const fired = (proc: Proc): string[] => proc.logs().filter((line) => line.msg === 'schedule: tick fired').map((line) => String(line['run']));

describe.skipIf(servicesSkipped())('distributed: cron ticks across a coordinator kill', () => {
  const newCluster = clusterPerTest();

  it('two coordinators, the firing one SIGKILLed after a fire: each tick fired once, none lost', async () => {
    const cluster = await newCluster();
    const [a, b] = await Promise.all([cluster.coordinator(), cluster.coordinator(), cluster.workers(2, { concurrency: 8, coordinator: false })]);
    const tw = await cluster.client();
    // Every second; ticks missed during the takeover (a few seconds, within the minute of grace) fire late, once each.
    const schedule = await tw.schedule(NAME, '* * * * * *', chainFlow('cron-chain', 2), {}, { overlap: 'allow', catchUpLimit: 100 });

    const firer = await until(() => [a, b].find((proc) => fired(proc).length >= 3), 'a coordinator to fire three ticks', 60_000);
    const survivor = firer === a ? b : a;
    await kill(firer, 'SIGKILL');
    const beforeKill = fired(firer);
    console.log(`[cron-kill] SIGKILLed coordinator ${firer.pid} after it fired ${beforeKill.length} ticks (last ${beforeKill.at(-1)})`);
    // The survivor wins the schedule's shard and fires the next ticks.
    await until(() => fired(survivor).length >= 3, 'the other coordinator to fire three ticks', 90_000);
    await schedule.pause();
    const afterPause = (await schedule.runs({ limit: 1000 })).map((run) => run.id);

    const ticks = afterPause.map((id) => Date.parse(id.slice(NAME.length + 1))).sort((x, y) => x - y);
    expect(new Set(afterPause).size).toBe(afterPause.length);
    const first = ticks[0] as number;
    const last = ticks.at(-1) as number;
    // Not zero: every second from the first tick to the last has its run.
    expect(ticks).toEqual(Array.from({ length: (last - first) / 1000 + 1 }, (_, k) => first + k * 1000));
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    // The killed coordinator's last fired tick is followed by the survivor's ticks.
    expect(fired(survivor).length).toBeGreaterThanOrEqual(3);
    for (const id of afterPause) expect((await tw.run(id).wait({ timeoutMs: 90_000 })).status, `run ${id}`).toBe('succeeded');

    // Not twice: each run's nodes ran and were recorded once.
    const result = await cluster.check(afterPause, { label: 'cron across a coordinator SIGKILL' });
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
    expect(result.nodes).toBe(2 * afterPause.length);
  });
});
