/**
 * Signal shards on the AMQP transport (issue 11): one signal queue per shard,
 * each signal routed to its run's shard, and dead letters recovered onto the
 * shard queue of their run. Against a real RabbitMQ, a random prefix per test.
 */
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/model/shard.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { AmqpTransport } from '../../src/transport/amqp/index.js';
import { createTopology } from '../../src/transport/amqp/index.js';
import type { Delivery, DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { checkShard } from '../../src/transport/shards.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

function signalOf(runId: string): SignalMessage {
  return { type: 'task.succeeded', runId, node: 'n', attempt: 1, worker: 'test/1', result: runId };
}

function dispatchOf(runId: string): DispatchMessage {
  return { type: 'dispatch', kind: 'apply', runId, node: 'fetch', attempt: 1, task: 'http.get', inputs: {}, timeoutMs: 5000, queue: 'default' };
}

/** The first run id `run-<i>` of shard `shard` among `shards`. */
function runOfShard(shard: number, shards: number): string {
  for (let i = 0; ; i++) if (shardOf(`run-${i}`, shards) === shard) return `run-${i}`;
}

/** Consumes shard `shard`'s signals, acknowledging and keeping each. */
async function collectSignals(t: AmqpTransport, shard?: number): Promise<{ got: SignalMessage[]; cancel: () => Promise<void> }> {
  const got: SignalMessage[] = [];
  const subscription = await t.consumeSignals({ prefetch: 20, ...(shard === undefined ? {} : { shard }) }, (batch: Delivery<SignalMessage>[]) => {
    for (const d of batch) {
      got.push(d.body);
      d.ack();
    }
  });
  return { got, cancel: () => subscription.cancel() };
}

describe.skipIf(servicesSkipped())('AMQP signal shards (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-shards');
  const { lines } = rabbit;
  /** Ready messages and consumers of `queue` (rejects if it does not exist). */
  const count = (queue: string): Promise<{ messageCount: number; consumerCount: number }> => rabbit.raw.queueDeclare({ queue, passive: true });

  it('declares one quorum signal queue per shard, with the arguments of the one queue', async () => {
    const t = await rabbit.open({ shards: 4 });
    const prefix = t.topology.prefix;
    expect(t.topology.signalQueues.map((q) => q.queue)).toEqual([0, 1, 2, 3].map((s) => `${prefix}.signals.${s}`));
    for (const shard of [0, 1, 2, 3]) await expect(count(`${prefix}.signals.${shard}`)).resolves.toMatchObject({ messageCount: 0 });
    await expect(count(`${prefix}.signals`)).rejects.toThrow(/NOT_FOUND/);
    const one = createTopology({ prefix });
    for (const q of t.topology.signalQueues) expect(q.arguments).toEqual(one.signalQueues[0]?.arguments);
  });

  it('routes each signal to its run shard queue: consuming shard 2 receives exactly the signals of shard 2', async () => {
    const t = await rabbit.open({ shards: 4 });
    const runs = Array.from({ length: 40 }, (_, i) => `order-${i}`);
    const byShard = [0, 1, 2, 3].map((s) => runs.filter((r) => shardOf(r, 4) === s));
    for (const group of byShard) expect(group.length).toBeGreaterThan(0);
    await t.signal(runs.map(signalOf));
    const { got } = await collectSignals(t, 2);
    await until(() => got.length === byShard[2]?.length || undefined, 'the signals of shard 2');
    // The other shards' signals wait in their own queues (one batch message each), untouched.
    for (const s of [0, 1, 3]) expect((await count(t.topology.signalQueueName(s))).messageCount).toBe(1);
    expect(got.map((m) => m.runId).sort()).toEqual([...(byShard[2] ?? [])].sort());
    expect(got.every((m) => shardOf(m.runId, 4) === 2)).toBe(true);
  });

  it('keeps the one queue <prefix>.signals with one shard (shard 0 or undefined), and refuses another shard', async () => {
    const t = await rabbit.open({ shards: 1 });
    const queue = `${t.topology.prefix}.signals`;
    expect(t.topology.signalQueueName(0)).toBe(queue);
    await t.signal([signalOf('a'), signalOf('b')]);
    expect((await count(queue)).messageCount).toBe(1); // one batch message
    const { got, cancel } = await collectSignals(t);
    await until(() => got.length === 2 || undefined, 'both signals');
    await cancel();
    await t.signal([signalOf('c')]);
    const { got: again } = await collectSignals(t, 0);
    await until(() => again.length === 1 || undefined, 'the signal of shard 0');
    await expect(t.consumeSignals({ prefetch: 1, shard: 1 }, () => undefined)).rejects.toMatchObject({ code: 'TW_CONFIG', message: expect.stringMatching(/invalid shard 1: expected only shard 0/) });
  });

  it('refuses a number of shards that is not an integer >= 1, naming the option', async () => {
    await expect(rabbit.open({ shards: 0 })).rejects.toMatchObject({ code: 'TW_CONFIG', message: expect.stringMatching(/invalid AMQP option shards 0/) });
    await expect(rabbit.open({ shards: 2.5 })).rejects.toThrow(/option shards 2\.5: expected an integer >= 1/);
  });

  it('turns a dispatch dead-lettered at the delivery limit into a task.failed signal (TW_DELIVERY_LIMIT) on its run shard queue', async () => {
    const t = await rabbit.open({ shards: 4, deliveryLimit: 1 });
    const runId = runOfShard(2, 4);
    // The coordinator of shard 0 consumes the recovery queue; shard 2's queue has no consumer.
    const shard0 = await collectSignals(t, 0);
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => d.requeue());
    await t.dispatch([dispatchOf(runId)]);
    const recovered = await until(() => rabbit.raw.basicGet({ queue: t.topology.signalQueueName(2), noAck: true }), 'the failed signal on shard 2');
    const body = JSON.parse(Buffer.from(recovered.body as Buffer).toString('utf8')) as SignalMessage;
    expect(body).toMatchObject({ type: 'task.failed', runId, node: 'fetch', attempt: 1, worker: 'rabbitmq/dead-letter', error: { code: 'TW_DELIVERY_LIMIT', retryable: true } });
    expect(recovered.durable).toBe(true);
    // Acknowledged once published: the recovery queue is empty, the dead-letter queue keeps its copy.
    await until(async () => (await count(t.topology.queues.recovery)).messageCount === 0 || undefined, 'the recovery queue emptied');
    expect((await t.peekDeadLetters(10)).map((l) => l.reason)).toEqual(['delivery_limit']);
    expect(lines.filter((l) => l.level === 'warn' && /dead-lettered from queue/.test(l.message))).toHaveLength(1);
    expect(shard0.got).toEqual([]);
  });

  it('does not lose a dead letter whose recovered signal cannot be published: the letter goes back until the publish succeeds', async () => {
    const t = await rabbit.open({ shards: 4, deliveryLimit: 1 });
    const runId = runOfShard(3, 4);
    const queue = t.topology.signalQueueName(3);
    await t.signal([signalOf(runOfShard(0, 4))]); // the publisher's channel is open: it does not declare the topology again
    await rabbit.raw.queueDelete({ queue });
    await collectSignals(t, 0);
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => d.requeue());
    await t.dispatch([dispatchOf(runId)]);
    await until(() => lines.some((l) => l.level === 'warn' && /cannot publish the task\.failed signal recovered from a dead letter/.test(l.message)) || undefined, 'the failed publish');
    const warning = lines.find((l) => /cannot publish the task\.failed/.test(l.message));
    expect(warning?.message).toContain(`to queue "${queue}"; the letter goes back to "${t.topology.queues.recovery}"`);
    expect(warning?.message).toMatch(/no queue bound for routing key/);
    // The queue comes back: the next try publishes the signal there.
    await rabbit.raw.queueDeclare(t.topology.signalQueues[3] ?? { queue });
    const recovered = await until(() => rabbit.raw.basicGet({ queue, noAck: true }), 'the failed signal on shard 3');
    expect(JSON.parse(Buffer.from(recovered.body as Buffer).toString('utf8'))).toMatchObject({ type: 'task.failed', runId, error: { code: 'TW_DELIVERY_LIMIT' } });
    await until(async () => (await count(t.topology.queues.recovery)).messageCount === 0 || undefined, 'the recovery queue emptied');
  });

  it('runs one recovery consumer per transport, shared by its signal consumers, until the last is cancelled', async () => {
    const t = await rabbit.open({ shards: 4 });
    const recovery = t.topology.queues.recovery;
    const a = await collectSignals(t, 0);
    const b = await collectSignals(t, 1);
    expect((await count(recovery)).consumerCount).toBe(1);
    await a.cancel();
    expect((await count(recovery)).consumerCount).toBe(1);
    await b.cancel();
    await until(async () => (await count(recovery)).consumerCount === 0 || undefined, 'the recovery consumer cancelled');
    const c = await collectSignals(t, 3);
    expect((await count(recovery)).consumerCount).toBe(1);
    await c.cancel();
  });
});

describe('signal shards: names and checks', () => {
  it('names the signal queues after the prefix and the shard; one shard keeps <prefix>.signals', () => {
    const four = createTopology({ prefix: 'acme', shards: 4 });
    expect(four.shards).toBe(4);
    expect([0, 1, 2, 3].map((s) => four.signalQueueName(s))).toEqual(['acme.signals.0', 'acme.signals.1', 'acme.signals.2', 'acme.signals.3']);
    expect(four.base.queues.map((q) => q.queue)).toEqual([
      ...[0, 1, 2, 3].map((s) => `acme.signals.${s}`),
      ...[0, 1, 2, 3].map((s) => `acme.requests.${s}`),
      'acme.dead',
      'acme.dead.recovery',
    ]);
    expect(() => four.signalQueueName(4)).toThrow(/invalid shard 4: expected an integer from 0 to 3/);
    expect(() => four.signalQueueName(-1)).toThrow(/invalid shard -1/);
    const one = createTopology({ prefix: 'acme' });
    expect(one.shards).toBe(1);
    expect(one.signalQueueName(0)).toBe('acme.signals');
    expect(one.requestQueues.map((q) => q.queue)).toEqual(['acme.requests']);
    expect(() => createTopology({ shards: 0 })).toThrow(/invalid AMQP option shards 0: expected an integer >= 1/);
  });

  it('recognises the signal queues of the prefix whatever the number of shards', () => {
    const t = createTopology({ prefix: 'acme', shards: 2 });
    for (const name of ['acme.signals', 'acme.signals.0', 'acme.signals.17']) expect(t.isSignalQueue(name)).toBe(true);
    for (const name of ['acme.signals.', 'acme.signals.x', 'acme.signals.1.2', 'other.signals.0', 'acme.work.signals']) expect(t.isSignalQueue(name)).toBe(false);
  });

  it('keeps the longest signal queue name within 255 bytes', () => {
    const prefix = 'p'.repeat(100);
    const t = createTopology({ prefix, shards: 100_000 });
    expect(Buffer.byteLength(t.signalQueueName(99_999))).toBeLessThanOrEqual(255);
  });

  it('checks the shard a consumer asks for; the in-process transport has one', async () => {
    expect(checkShard(undefined, 1)).toBe(0);
    expect(checkShard(3, 4)).toBe(3);
    expect(() => checkShard(1.5, 4)).toThrow(/invalid shard 1\.5/);
    const transport = new InProcessTransport();
    await expect(transport.consumeSignals({ prefetch: 1, shard: 0 }, () => undefined)).resolves.toBeDefined();
    await expect(transport.consumeSignals({ prefetch: 1, shard: 1 }, () => undefined)).rejects.toMatchObject({ code: 'TW_CONFIG' });
    await transport.close();
  });
});
