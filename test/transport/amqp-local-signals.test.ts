/**
 * Local signals (src/transport/amqp/local-signals.ts): a signal of a shard
 * the transport itself consumes is handed to that consumer in memory, and
 * `signal()` resolves only once it is acknowledged (before, it resolved at the
 * broker's confirm, whatever the consumer did next). What is given back or
 * dead-lettered goes through the broker. Against a real RabbitMQ.
 */
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/model/shard.js';
import type { Delivery, SignalMessage } from '../../src/transport/port.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

function signalOf(runId: string): SignalMessage {
  return { type: 'task.succeeded', runId, node: 'n', attempt: 1, worker: 'test/1', result: { runId } };
}

/** The first run id `run-<i>` of shard `shard` among `shards`. */
function runOfShard(shard: number, shards: number): string {
  for (let i = 0; ; i++) if (shardOf(`run-${i}`, shards) === shard) return `run-${i}`;
}

/** Whether `promise` is still pending after the current callbacks and a turn of the event loop. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return !done;
}

describe.skipIf(servicesSkipped())('AMQP local signals (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-local');
  /** Ready messages of `queue`. */
  const ready = async (queue: string): Promise<number> => (await rabbit.raw.queueDeclare({ queue, passive: true })).messageCount;

  it('hands a signal of a shard it consumes to the consumer in memory; signal() resolves once it is acknowledged', async () => {
    const t = await rabbit.open();
    const held: Delivery<SignalMessage>[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => held.push(...batch));
    const message = signalOf('r1');
    const sent = t.signal([message]);
    await until(() => held.length === 1 || undefined, 'the local delivery');
    const [delivery] = held as [Delivery<SignalMessage>];
    expect(delivery.body).toEqual(message);
    expect(delivery.redelivered).toBe(false);
    expect((delivery.body as { result?: unknown }).result).not.toBe((message as { result?: unknown }).result); // the result is copied
    expect(await pending(sent)).toBe(true); // not acknowledged yet: the worker must keep its dispatch
    delivery.ack();
    await sent;
    expect(held).toHaveLength(1);
    expect(await ready(t.topology.signalQueueName(0))).toBe(0);
  });

  it('publishes a local signal given back, and resolves once the broker holds it', async () => {
    const t = await rabbit.open();
    const held: Delivery<SignalMessage>[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => held.push(...batch));
    const sent = t.signal([signalOf('r2')]);
    await until(() => held.length === 1 || undefined, 'the local delivery');
    held[0]?.requeue();
    await sent; // confirmed by the broker, not acknowledged by anyone yet
    await until(() => held.length === 2 || undefined, 'the delivery through the broker');
    expect(held[1]?.body).toEqual(signalOf('r2'));
    held[1]?.ack();
  });

  it('dead-letters a local signal rejected, as the broker would', async () => {
    const t = await rabbit.open();
    await t.consumeSignals({ prefetch: 10 }, (batch) => {
      for (const delivery of batch) delivery.reject();
    });
    await t.signal([signalOf('r3')]);
    const letter = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(JSON.parse(letter.body)).toEqual(signalOf('r3'));
    expect(letter).toMatchObject({ queue: t.topology.signalQueueName(0), reason: 'rejected' });
  });

  it('publishes the signals of shards it does not consume, and all of them once its consumer is cancelled', async () => {
    const t = await rabbit.open({ shards: 4 });
    const held: Delivery<SignalMessage>[] = [];
    const subscription = await t.consumeSignals({ prefetch: 10, shard: 2 }, (batch) => held.push(...batch));
    const other = runOfShard(1, 4);
    await t.signal([signalOf(other)]); // confirmed: nobody acknowledges it
    expect(await ready(t.topology.signalQueueName(1))).toBe(1);
    await subscription.cancel();
    await t.signal([signalOf(runOfShard(2, 4))]);
    expect(await ready(t.topology.signalQueueName(2))).toBe(1);
    expect(held).toHaveLength(0);
  });
});
