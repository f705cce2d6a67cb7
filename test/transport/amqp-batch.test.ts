/**
 * Batch messages of the AMQP transport against a real RabbitMQ: signals and
 * dispatches travel several to a message, each item is delivered and settled
 * on its own, and the message is settled once all are.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { Delivery, DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import type { AmqpTransport } from '../../src/transport/amqp/index.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

function signalOf(n: number): SignalMessage {
  return { type: 'task.succeeded', runId: 'run-1', node: `node-${n}`, attempt: 1, worker: 'test/1', result: { n } };
}

function dispatchOf(n: number): DispatchMessage {
  return { type: 'dispatch', kind: 'apply', runId: 'run-1', node: `node-${n}`, attempt: 1, task: 'echo', inputs: { n }, timeoutMs: 5000, queue: 'default' };
}

/** Consumes signals, keeping each delivery unsettled for the test to settle. */
async function holdSignals(t: AmqpTransport): Promise<{ got: Delivery<SignalMessage>[]; cancel: () => Promise<void> }> {
  const got: Delivery<SignalMessage>[] = [];
  const subscription = await t.consumeSignals({ prefetch: 50 }, (batch) => void got.push(...batch));
  return { got, cancel: () => subscription.cancel() };
}

describe.skipIf(servicesSkipped())('AMQP batch messages (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-batch');
  const { lines } = rabbit;
  /** Ready messages of `queue`. */
  const ready = async (queue: string): Promise<number> => (await rabbit.raw.queueDeclare({ queue, passive: true })).messageCount;

  it('gathers the signals of concurrent calls into one message; each is delivered, and the message acked once all are', async () => {
    const t = await rabbit.open();
    const queue = t.topology.signalQueueName(0);
    await Promise.all(Array.from({ length: 5 }, (_, n) => t.signal([signalOf(n)])));
    expect(await ready(queue)).toBe(1);
    const { got, cancel } = await holdSignals(t);
    await until(() => got.length === 5 || undefined, 'five signals');
    expect(got.map((d) => d.body).sort((a, b) => a.node.localeCompare(b.node))).toEqual([0, 1, 2, 3, 4].map(signalOf));
    for (const d of got.slice(0, 4)) d.ack();
    await cancel(); // one item unsettled: the message is still held, the channel open
    const state = (): Promise<{ messageCount: number; consumerCount: number }> => rabbit.raw.queueDeclare({ queue, passive: true });
    (got[4] as Delivery<SignalMessage>).ack();
    // The last item settled: the message is acked and the channel closes; nothing comes back.
    await until(async () => ((await state()).consumerCount === 0 ? true : undefined), 'the consumer gone');
    expect(await state()).toMatchObject({ messageCount: 0 });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('fails only the signal() call whose signal is too large, not those gathered beside it', async () => {
    const t = await rabbit.open({ maxMessageBytes: 2048 });
    const [good, large] = await Promise.allSettled([t.signal([signalOf(1)]), t.signal([{ type: 'task.succeeded', runId: 'run-1', node: 'large', attempt: 1, worker: 'test/1', result: 'x'.repeat(5000) }])]);
    expect(good.status).toBe('fulfilled');
    expect(large).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/exceeds the limit of 2048 bytes/) } });
    const { got } = await holdSignals(t);
    await until(() => got.length === 1 || undefined, 'the good signal');
    expect(got[0]?.body).toEqual(signalOf(1));
  });

  it('sends back only the requeued items of a partly handled batch; a batch requeued whole comes back whole, redelivered', async () => {
    const t = await rabbit.open();
    await t.signal([0, 1, 2, 3].map(signalOf));
    const first = await holdSignals(t);
    await until(() => first.got.length === 4 || undefined, 'the batch');
    const [a, b, c, d] = first.got as [Delivery<SignalMessage>, Delivery<SignalMessage>, Delivery<SignalMessage>, Delivery<SignalMessage>];
    a.ack();
    c.ack();
    b.requeue();
    d.requeue();
    await until(() => first.got.length === 6 || undefined, 'the requeued items');
    const again = first.got.slice(4);
    expect(again.map((x) => x.body)).toEqual([b.body, d.body]);
    // Republished (not redelivered): a fresh message of the two items. Requeued whole this time.
    for (const x of again) x.requeue();
    await until(() => first.got.length === 8 || undefined, 'the whole batch again');
    expect(first.got.slice(6).map((x) => [x.body, x.redelivered])).toEqual([
      [b.body, true],
      [d.body, true],
    ]);
    for (const x of first.got.slice(6)) x.ack();
    await first.cancel();
    expect(await ready(t.topology.signalQueueName(0))).toBe(0);
  });

  it('dead-letters a poison item alone: a malformed item (named in the error) and an item the handler rejects', async () => {
    const t = await rabbit.open();
    const queue = t.topology.signalQueueName(0);
    const bad = { ...signalOf(1), attempt: 'one' };
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: queue, messageId: 'batch-1', contentType: 'application/json', contentEncoding: 'utf-8' }, Buffer.from(JSON.stringify([signalOf(0), bad, signalOf(2)])));
    await publisher.close();
    const { got, cancel } = await holdSignals(t);
    await until(() => got.length === 2 || undefined, 'the two good items');
    expect(got.map((d) => d.body)).toEqual([signalOf(0), signalOf(2)]);
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/dead-lettered item 2 of 3 of a batch message from queue "[^"]+" \(message id batch-1\): invalid signal message \(item 2 of 3 of a batch\): field "attempt" expected an integer >= 0/);
    (got[0] as Delivery<SignalMessage>).ack();
    (got[1] as Delivery<SignalMessage>).ack();
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(JSON.parse(dead.body)).toEqual(bad);
    expect(dead).toMatchObject({ queue, reason: 'rejected' });

    // An item the coordinator cannot handle (rejected): dead-lettered alone, the others acked.
    // Published by another process (this transport's own signals of a shard it consumes are handed over in memory).
    const worker = await rabbit.join(t);
    await worker.signal([3, 4, 5].map(signalOf));
    await until(() => got.length === 5 || undefined, 'the second batch');
    for (const d of got.slice(2)) {
      if (d.body.node === 'node-4') d.reject();
      else d.ack();
    }
    await until(async () => ((await t.peekDeadLetters(10)).length === 2 ? true : undefined), 'the second dead letter');
    const letters = await t.peekDeadLetters(10);
    expect(letters.map((l) => JSON.parse(l.body) as unknown)).toEqual([bad, signalOf(4)]);
    await cancel();
    expect(await ready(queue)).toBe(0);
  });

  it('recovers every item of a batch dead-lettered at its delivery limit, each to its run shard queue', async () => {
    const t = await rabbit.open({ deliveryLimit: 1 });
    await t.signal([signalOf(0), signalOf(1)]);
    const seen: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => {
      for (const d of batch) {
        seen.push(d.body);
        if (seen.filter((s) => s.node === d.body.node).length <= 2) d.requeue();
        else d.ack();
      }
    });
    await until(() => seen.length >= 6 || undefined, 'both items back from the dead letters');
    expect(seen.slice(4).sort((a, b) => a.node.localeCompare(b.node))).toEqual([signalOf(0), signalOf(1)]);
    const [letter] = await t.peekDeadLetters(10);
    expect(letter).toMatchObject({ reason: 'delivery_limit' });
    expect(JSON.parse(letter?.body ?? '')).toEqual([signalOf(0), signalOf(1)]);
  });

  it('sends the dispatches of one call in batch messages, and hands them on no more than the prefetch at once', async () => {
    const t = await rabbit.open({ batch: { dispatches: 8 } });
    await t.dispatch(Array.from({ length: 20 }, (_, n) => dispatchOf(n)));
    expect(await ready(t.topology.workQueueName('default'))).toBe(3); // 8 + 8 + 4
    const held: Delivery<DispatchMessage>[] = [];
    const done: number[] = [];
    let most = 0;
    await t.consumeDispatches('default', { prefetch: 2 }, (d) => {
      held.push(d);
      most = Math.max(most, held.length);
    });
    while (done.length < 20) {
      const d = await until(() => held.shift(), 'a dispatch');
      done.push(d.body.inputs['n'] as number);
      d.ack();
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(done).toEqual(Array.from({ length: 20 }, (_, n) => n)); // in order
    await until(async () => ((await ready(t.topology.workQueueName('default'))) === 0 ? true : undefined), 'the queue empty');
  });

  it('signs batch messages and verifies them like any other', async () => {
    const signing = { keys: ['k'.repeat(40)] };
    const t = await rabbit.open({ signing });
    await t.dispatch([dispatchOf(1), dispatchOf(2)]);
    const got: DispatchMessage[] = [];
    await t.consumeDispatches('default', { prefetch: 4 }, (d) => (got.push(d.body), d.ack()));
    await until(() => got.length === 2 || undefined, 'both dispatches');
    const raw = await until(async () => {
      await t.signal([signalOf(1), signalOf(2)]);
      return rabbit.raw.basicGet({ queue: t.topology.signalQueueName(0), noAck: true });
    }, 'a signal batch');
    expect(raw.headers?.['x-taskwire-signature']).toMatch(/^v1=/);
    expect(JSON.parse(String(raw.body))).toHaveLength(2);
    // A batch without a valid signature is refused whole.
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: t.topology.signalQueueName(0), messageId: 'forged', contentType: 'application/json', contentEncoding: 'utf-8' }, Buffer.from(JSON.stringify([signalOf(1), signalOf(2)])));
    await publisher.close();
    const taken: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => batch.forEach((d) => (taken.push(d.body), d.ack())));
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the refused batch');
    expect(dead).toMatchObject({ messageId: 'forged', reason: 'rejected' });
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/with a refused signature .*message id forged.*unsigned/);
    expect(taken).toEqual([]);
  });

  it('announces outcomes and run statuses by default, every history entry with announce: all', async () => {
    const entries: HistoryEntry[] = [
      { runId: 'r1', seq: 1, at: 1, type: 'run.started', graphVersion: 1 },
      { runId: 'r1', seq: 2, at: 2, type: 'node.queued', graphVersion: 1, node: 'a', attempt: 1 },
      { runId: 'r1', seq: 3, at: 3, type: 'event.notified', graphVersion: 1, node: 'e' },
      { runId: 'r1', seq: 4, at: 4, type: 'node.succeeded', graphVersion: 1, node: 'a', attempt: 1 },
      { runId: 'r1', seq: 5, at: 5, type: 'run.status', graphVersion: 1, status: 'succeeded' },
    ];
    for (const announce of ['outcomes', 'all'] as const) {
      const t = await rabbit.open(announce === 'all' ? { announce } : {});
      const got: HistoryEntry[] = [];
      await t.subscribe('run.r1.#', (e) => void got.push(e));
      await t.announce(entries);
      await until(() => got.some((e) => e.type === 'run.status') || undefined, 'the run status');
      expect(got.map((e) => e.type)).toEqual(announce === 'all' ? entries.map((e) => e.type) : ['run.started', 'node.succeeded', 'run.status']);
    }
    await expect(rabbit.open({ announce: 'some' as 'all' })).rejects.toThrow(/invalid AMQP option announce "some"/);
  });
});
