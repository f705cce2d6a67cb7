/**
 * Poison messages published straight onto the work queue while runs go on: a
 * body that is not JSON and one that fails the dispatch schema. Neither is
 * executed; both land in `<prefix>.dead` with one clear error line each in the
 * worker's log, and the other runs finish unaffected.
 *
 * A poison task (one that kills its worker process every time) beside innocent
 * ones: only the poison dies (redelivered dispatches run alone, quarantined),
 * and it ends failed with `TW_DELIVERY_LIMIT` after its retries.
 */
import { Buffer } from 'node:buffer';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAmqp } from '../../src/transport/amqp/index.js';
import type { DeadLetter } from '../../src/transport/amqp/dead-letters.js';
import { parallelFlow, poisonFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, until, type LogLine } from './harness.js';

const RUNS = 10;
const WIDTH = 10;

describe.skipIf(servicesSkipped())('distributed: poison messages', () => {
  const newCluster = clusterPerTest();

  it('a malformed and a schema-invalid dispatch go to the dead-letter queue with one log line each; the runs finish', async () => {
    const cluster = await newCluster();
    const workers = await cluster.workers(2, { concurrency: 8 });
    const tw = await cluster.client();
    const workQueue = `${cluster.prefix}.work.default`;

    const starting = Promise.all(Array.from({ length: RUNS }, (_, k) => tw.start(parallelFlow(`parallel-${k}`, WIDTH, k * WIDTH))));
    await cluster.untilFinished(Math.ceil(RUNS * WIDTH * 0.3));

    // A third-party publisher: JSON content type, no content encoding, straight to the queue.
    const poison = [
      { messageId: 'poison-not-json', body: '{"not json' },
      {
        messageId: 'poison-bad-schema',
        body: JSON.stringify({ type: 'dispatch', kind: 'apply', runId: 'poison-run', node: 'n', attempt: 'one', task: 'fault.work', inputs: { i: 1 }, timeoutMs: 0, queue: 'default' }),
      },
    ];
    const raw = new Connection({ url: cluster.broker, connectionName: 'taskwire poison.test' });
    raw.on('error', () => undefined);
    const publisher = raw.createPublisher({ confirm: true });
    try {
      for (const message of poison) {
        await publisher.send({ exchange: '', routingKey: workQueue, messageId: message.messageId, contentType: 'application/json', durable: true }, Buffer.from(message.body, 'utf8'));
      }
    } finally {
      await publisher.close();
      await raw.close();
    }

    const runs = await starting;
    for (const run of runs) expect((await run.wait({ timeoutMs: 60_000 })).status, `run ${run.id}`).toBe('succeeded');

    // Both are dead letters, rejected from the work queue, bodies intact.
    const transport = await connectAmqp({ url: cluster.broker, prefix: cluster.prefix });
    let letters: DeadLetter[];
    try {
      letters = await until(
        async () => {
          const found = await transport.peekDeadLetters(10);
          return found.length >= poison.length ? found : undefined;
        },
        'the poison messages in the dead-letter queue',
        20_000,
        200,
      );
    } finally {
      await transport.close();
    }
    expect(letters).toHaveLength(poison.length);
    for (const message of poison) {
      const letter = letters.find((l) => l.messageId === message.messageId);
      expect(letter, message.messageId).toMatchObject({ body: message.body, queue: workQueue, reason: 'rejected' });
    }

    // One clear error line per poison message, in the log of the worker that took it; no other error.
    const errors: (LogLine & { pid: number })[] = [];
    for (const worker of workers) for (const line of worker.logs()) if (line.level >= 50) errors.push({ ...line, pid: worker.pid });
    for (const message of poison) {
      const lines = errors.filter((line) => line.msg.includes(message.messageId));
      expect(lines, `error lines about ${message.messageId}`).toHaveLength(1);
      expect(lines[0]?.msg).toMatch(new RegExp(`^AMQP: dead-lettered a malformed dispatch message from queue "${workQueue.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
    }
    expect(errors.find((line) => line.msg.includes('poison-bad-schema'))?.msg).toMatch(/attempt/);
    expect(errors).toHaveLength(poison.length);
    console.log(`[poison] error lines:\n${errors.map((line) => `  worker ${line.pid}: ${line.msg}`).join('\n')}`);

    // Never executed.
    expect(cluster.records().filter((r) => r.runId === 'poison-run')).toEqual([]);
    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'poison' },
    );
    expect(result.nodes).toBe(RUNS * WIDTH);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
    expect(result.reExecutions).toEqual([]);
  });
});

describe.skipIf(servicesSkipped())('distributed: a task that kills its worker process', () => {
  const newCluster = clusterPerTest();
  // A small delivery limit keeps the number of worker restarts small (every process of the test shares it).
  const saved = process.env['TASKWIRE_AMQP_DELIVERY_LIMIT'];
  beforeAll(() => void (process.env['TASKWIRE_AMQP_DELIVERY_LIMIT'] = '2'));
  afterAll(() => {
    if (saved === undefined) delete process.env['TASKWIRE_AMQP_DELIVERY_LIMIT'];
    else process.env['TASKWIRE_AMQP_DELIVERY_LIMIT'] = saved;
  });

  it('kills no innocent task, and ends failed with TW_DELIVERY_LIMIT after its retries', async () => {
    const cluster = await newCluster();
    // The coordinator in a process of its own: one that shares the poison's process dies with it.
    await cluster.coordinator();
    const supervisor = await cluster.superviseWorkers(2, { concurrency: 8, coordinator: false });
    const tw = await cluster.client();
    try {
      // The poison first, then the innocents, so that they are prefetched together.
      const poison = await tw.start(poisonFlow('poison'));
      const runs = await Promise.all(Array.from({ length: RUNS }, (_, k) => tw.start(parallelFlow(`innocent-${k}`, WIDTH, k * WIDTH))));

      const failed = await poison.wait({ timeoutMs: 240_000 });
      expect(failed.status).toBe('failed');
      const node = failed.nodes['poison'];
      expect(node?.error).toMatchObject({ code: 'TW_DELIVERY_LIMIT', retryable: true });
      expect(node?.attempt).toBe(2);
      // Attempt 1 and its retry each started, and killed their process, at least once.
      const poisonStarts = cluster.records().filter((r) => r.runId === poison.id);
      expect(new Set(poisonStarts.map((r) => r.attempt))).toEqual(new Set([1, 2]));

      for (const run of runs) expect((await run.wait({ timeoutMs: 120_000 })).status, `run ${run.id}`).toBe('succeeded');
      const result = await cluster.check(
        runs.map((run) => run.id),
        { label: 'task that exits its process' },
      );
      console.log(`[poison] ${poisonStarts.length} poison executions, ${supervisor.restarts()} worker restarts`);
      expect(result.nodes).toBe(RUNS * WIDTH);
      expect(result.lost).toEqual([]);
      expect(result.recordedTwice).toEqual([]);
    } finally {
      supervisor.stop();
    }
  }, 300_000);
});
