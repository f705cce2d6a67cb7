/**
 * RabbitMQ restarts mid-run (`rabbitmqctl stop_app`, then `start_app`): every
 * connection drops; workers, coordinators and the client reconnect; dispatches
 * that could not be published wait in the outbox, unacknowledged messages are
 * delivered again, and every run finishes with each outcome recorded once.
 *
 * This cuts every other user of the broker: the `distributed` project runs
 * after the `main` one, one file at a time (vitest.config.ts).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { chainFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { Cluster, killLeftovers, until } from './harness.js';

const CHAINS = 12;
// Long enough that the run is still going once stop_app returns (it took 2.6 to 3.4 s here,
// and 40 steps per chain had all but ended by then).
const LENGTH = 120;
const TOTAL = CHAINS * LENGTH;

function rabbitmqctl(...args: string[]): void {
  execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 60_000 });
}

/** Set while this file has the broker app stopped, so that a failure never leaves it down. */
let stopped = false;

function restartIfStopped(): void {
  if (!stopped) return;
  rabbitmqctl('start_app');
  rabbitmqctl('await_startup');
  stopped = false;
}

describe.skipIf(servicesSkipped())('distributed: RabbitMQ restarts', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    restartIfStopped(); // never leave the broker stopped, whatever failed
    await cluster?.cleanup();
    cluster = undefined;
  });
  afterAll(async () => {
    restartIfStopped();
    await killLeftovers();
  });

  it('rabbitmqctl stop_app / start_app at 30 %: everyone reconnects, every run finishes, nothing lost or recorded twice', async () => {
    cluster = await Cluster.create();
    const workers = await cluster.workers(3, { concurrency: 8 });
    const tw = await cluster.client();

    const runs: RunHandle[] = [];
    for (let k = 0; k < CHAINS; k++) runs.push(await tw.start(chainFlow(`chain-${k}`, LENGTH, k * LENGTH)));

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3), 90_000);
    const stopAt = Date.now();
    stopped = true;
    rabbitmqctl('stop_app');
    const down = cluster.finished();
    const downAt = Date.now();
    // Nothing new starts while the broker is down (each step needs it): at most
    // the bodies already running (3 workers × concurrency 8) end.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(cluster.finished() - down).toBeLessThanOrEqual(3 * 8);
    restartIfStopped();
    const upAt = Date.now();
    console.log(
      `[broker-restart] stop_app took ${downAt - stopAt} ms with ${down} of ${TOTAL} bodies ended; broker down for ${upAt - downAt} ms`,
    );
    expect(down, 'the restart must happen mid-run').toBeLessThan(TOTAL);
    // The client works again too: a run started right away (its first dispatch
    // may still find the client reconnecting: the outbox keeps it).
    const late = await tw.start(chainFlow('after-restart', 5, TOTAL));
    runs.push(late);

    for (const run of runs) expect((await run.wait({ timeoutMs: 120_000 })).status, `run ${run.id}`).toBe('succeeded');
    const doneAt = Date.now();
    console.log(`[broker-restart] every run finished ${doneAt - upAt} ms after the broker was back`);
    for (const run of runs.slice(0, CHAINS)) expect(await run.result(`c${LENGTH - 1}`)).toBe(LENGTH);
    expect(await late.result('c4')).toBe(5);

    // Every process lived through it and logged its reconnection.
    for (const worker of workers) {
      expect(worker.alive).toBe(true);
      await until(() => worker.logs().some((line) => line.msg.startsWith('AMQP: reconnected')), `worker ${worker.pid} to log its reconnection`, 10_000);
    }

    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'RabbitMQ restart' },
    );
    expect(result.nodes).toBe(TOTAL + 5);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
