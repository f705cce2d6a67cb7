/**
 * The AMQP transport against a real RabbitMQ. Every test uses its own random
 * prefix and deletes its queues and exchanges afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DispatchMessage, SignalMessage, Delivery } from '../../src/transport/port.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import { connectAmqp, createTopology, escapeSegment, redactAmqpUrl, runPattern } from '../../src/transport/amqp/index.js';
import type { AmqpTransport } from '../../src/transport/amqp/index.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

function dispatchOf(queue: string, n = 1): DispatchMessage {
  return { type: 'dispatch', kind: 'apply', runId: `run-${n}`, node: 'fetch', attempt: 1, task: 'http.get', inputs: { url: 'https://example.com', n }, timeoutMs: 5000, queue };
}

/** Consumes the default work queue, acknowledging and keeping every dispatch. */
async function collectDispatches(t: AmqpTransport, prefetch: number): Promise<DispatchMessage[]> {
  const got: DispatchMessage[] = [];
  await t.consumeDispatches('default', { prefetch }, (d) => {
    got.push(d.body);
    d.ack();
  });
  return got;
}

function signalOf(n: number): SignalMessage {
  return { type: 'task.succeeded', runId: 'run-1', node: `node-${n}`, attempt: 1, worker: 'test/1', result: { n } };
}

function entryOf(runId: string, seq: number, node?: string): HistoryEntry {
  return { runId, seq, at: 1_700_000_000_000 + seq, type: node === undefined ? 'run.started' : 'node.succeeded', graphVersion: 1, ...(node === undefined ? {} : { node }) };
}

describe.skipIf(servicesSkipped())('AMQP transport (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-test');
  const { lines } = rabbit;
  const open = (options: { connectionName?: string; deliveryLimit?: number } = {}): Promise<AmqpTransport> => rabbit.open(options);

  it('round-trips a dispatch: consume, body intact, ack', async () => {
    const t = await open();
    const sent: DispatchMessage = { ...dispatchOf('default'), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', activation: 2 };
    await t.dispatch([sent]);
    const got: Delivery<DispatchMessage>[] = [];
    const sub = await t.consumeDispatches('default', { prefetch: 4 }, (d) => void got.push(d));
    const delivery = await until(() => got[0], 'the dispatch');
    expect(delivery.body).toEqual({ ...sent, sentAt: expect.any(Number) });
    expect(delivery.redelivered).toBe(false);
    delivery.ack();
    await sub.cancel();
    expect(got).toHaveLength(1);
  });

  it('puts the traceparent in the AMQP headers and publishes persistent JSON', async () => {
    const t = await open();
    await t.dispatch([{ ...dispatchOf('traced'), traceparent: '00-abc-def-01' }]);
    const message = await until(() => rabbit.raw.basicGet({ queue: t.topology.workQueueName('traced'), noAck: true }), 'the message');
    expect(message.headers?.['traceparent']).toBe('00-abc-def-01');
    expect(message.durable).toBe(true);
    expect(message.contentType).toBe('application/json');
    expect(message.messageId).toEqual(expect.any(String));
  });

  it('declares quorum queues with delivery limit, DLX at-least-once and reject-publish', async () => {
    const t = await open();
    await t.dispatch([dispatchOf('q1')]);
    const listed = JSON.parse(execFileSync('rabbitmqctl', ['list_queues', '-q', '-p', '/', 'name', 'type', 'arguments', '--formatter', 'json']).toString()) as {
      name: string;
      type: string;
      arguments: [string, string, unknown][];
    }[];
    const mine = new Map(listed.filter((q) => q.name.startsWith(`${t.topology.prefix}.`)).map((q) => [q.name, q]));
    const prefix = t.topology.prefix;
    expect([...mine.keys()].sort()).toEqual([`${prefix}.dead`, `${prefix}.dead.recovery`, `${prefix}.requests`, `${prefix}.signals`, `${prefix}.work.q1`]);
    // Requests are classic queues without a dead-letter exchange: one expires when its client stops waiting.
    for (const [name, queue] of mine) expect(queue.type).toBe(name === `${prefix}.requests` ? 'classic' : 'quorum');
    for (const name of [`${prefix}.work.q1`, `${prefix}.signals`]) {
      const args = Object.fromEntries((mine.get(name)?.arguments ?? []).map(([key, , value]) => [key, value]));
      expect(args).toEqual({
        'x-queue-type': 'quorum',
        'x-delivery-limit': 10,
        'x-dead-letter-exchange': `${prefix}.dlx`,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      });
    }
  });

  it('delivers signals to consumeSignals in batches', async () => {
    const t = await open();
    await t.signal(Array.from({ length: 20 }, (_, i) => signalOf(i)));
    const batches: Delivery<SignalMessage>[][] = [];
    await t.consumeSignals({ prefetch: 50 }, (batch) => {
      batches.push(batch);
      for (const d of batch) d.ack();
    });
    await until(() => batches.flat().length === 20, 'twenty signals');
    expect(batches.flat().map((d) => d.body.node).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `node-${i}`).sort());
    expect(batches.length).toBeLessThan(20);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
    expect(batches.flat()[0]?.body).toEqual(signalOf(Number(batches.flat()[0]?.body.node.slice(5))));
  });

  it('redelivers a requeued dispatch with redelivered: true', async () => {
    const t = await open();
    const got: Delivery<DispatchMessage>[] = [];
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => {
      got.push(d);
      if (got.length === 1) d.requeue();
      else d.ack();
    });
    await t.dispatch([dispatchOf('default')]);
    await until(() => got.length >= 2, 'the redelivery');
    expect(got.map((d) => d.redelivered)).toEqual([false, true]);
    expect(got[1]?.body).toEqual(got[0]?.body);
  });

  it('runs a redelivered dispatch alone: quarantined until the dispatches in hand are settled, none taken meanwhile', async () => {
    const t = await open();
    const held: Delivery<DispatchMessage>[] = [];
    const order: string[] = [];
    await t.consumeDispatches('default', { prefetch: 4 }, (d) => {
      order.push(`${d.body.runId}${d.redelivered ? ' again' : ''}`);
      if (d.body.runId === 'run-1' && !d.redelivered) d.requeue(); // as if its worker had died
      else held.push(d);
    });
    await t.dispatch([dispatchOf('default', 2), dispatchOf('default', 3)]);
    await until(() => held.length === 2 || undefined, 'two dispatches in hand');
    await t.dispatch([dispatchOf('default', 1)]);
    await until(() => order.includes('run-1') || undefined, 'the first delivery of run-1');
    await until(() => lines.some((l) => /quarantined in "tw-test-\w+\.quarantine\.default"/.test(l.message)) || undefined, 'the quarantine');
    await t.dispatch([dispatchOf('default', 4)]);
    // run-2 and run-3 in hand: neither the quarantined run-1 nor run-4 is delivered.
    expect(order).toEqual(['run-2', 'run-3', 'run-1']);
    for (const d of held.splice(0)) d.ack();
    await until(() => held.length === 1 || undefined, 'the quarantined dispatch');
    expect(order).toEqual(['run-2', 'run-3', 'run-1', 'run-1 again']);
    held.splice(0)[0]?.ack();
    await until(() => held.length === 1 || undefined, 'the next dispatch');
    expect(order.at(-1)).toBe('run-4');
  });

  it('dead-letters a dispatch requeued more often than the delivery limit', async () => {
    const t = await open({ deliveryLimit: 2 });
    let deliveries = 0;
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => {
      deliveries++;
      d.requeue();
    });
    await t.dispatch([dispatchOf('default')]);
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(dead.reason).toBe('delivery_limit');
    expect(dead.queue).toBe(`${t.topology.prefix}.quarantine.default`);
    expect(JSON.parse(dead.body)).toMatchObject(dispatchOf('default'));
    // Once from the work queue, then (quarantined) the delivery limit + 1 times.
    expect(deliveries).toBe(4);
  });

  it('turns a dispatch dead-lettered at the delivery limit into a retryable failed signal (TW_DELIVERY_LIMIT)', async () => {
    const t = await open({ deliveryLimit: 1 });
    const signals: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => {
      for (const d of batch) {
        signals.push(d.body);
        d.ack();
      }
    });
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => d.requeue());
    await t.dispatch([{ ...dispatchOf('default'), activation: 3 }, { ...dispatchOf('default', 2), kind: 'rollback' }]);
    await until(() => signals.length >= 2 || undefined, 'two failed signals');
    const byType = new Map(signals.map((s) => [s.type, s]));
    expect(byType.get('task.failed')).toMatchObject({ runId: 'run-1', node: 'fetch', attempt: 1, activation: 3, error: { code: 'TW_DELIVERY_LIMIT', retryable: true } });
    expect(byType.get('rollback.failed')).toMatchObject({ runId: 'run-2', node: 'fetch', attempt: 1, error: { code: 'TW_DELIVERY_LIMIT' } });
    const failed = byType.get('task.failed');
    expect(failed?.type === 'task.failed' && failed.error.message).toMatch(/task "http\.get".*dead-lettered/);
    // One warning per dead letter; the dead-letter queue keeps its copy for diagnostics.
    expect(lines.filter((l) => l.level === 'warn' && /dead-lettered/.test(l.message))).toHaveLength(2);
    expect(await t.peekDeadLetters(10)).toHaveLength(2);
    expect(signals).toHaveLength(2);
  });

  it('hands a signal dead-lettered at its delivery limit back to the coordinators (its outcome is not lost); drops a malformed dead letter', async () => {
    const t = await open({ deliveryLimit: 1 });
    await collectDispatches(t, 1);
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: t.topology.workQueueName('default'), messageId: 'bad-1' }, Buffer.from('{"not json'));
    await publisher.close();
    await t.signal([signalOf(1)]);
    // A coordinator that keeps giving the signal back (or dying with it): it reaches the delivery limit.
    const seen: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 10 }, (batch) => {
      for (const d of batch) {
        seen.push(d.body);
        if (seen.filter((s) => s.worker === 'test/1').length <= 2) d.requeue();
        else d.ack();
      }
    });
    await until(() => seen.length >= 3 || undefined, 'the signal back from the dead-letter queue');
    expect(seen).toEqual([signalOf(1), signalOf(1), signalOf(1)]);
    expect((await t.peekDeadLetters(10)).map((l) => l.reason).sort()).toEqual(['delivery_limit', 'rejected']);
    await t.signal([{ ...signalOf(2), worker: 'marker' }]);
    await until(() => seen.some((s) => s.worker === 'marker') || undefined, 'the marker signal');
    expect(seen.map((s) => s.worker)).toEqual(['test/1', 'test/1', 'test/1', 'marker']);
  });

  it('dead-letters a body that is not JSON without calling the handler, and keeps consuming', async () => {
    const t = await open();
    const got = await collectDispatches(t, 2);
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: t.topology.workQueueName('default'), messageId: 'bad-1' }, Buffer.from('{"not json'));
    await publisher.close();
    await t.dispatch([dispatchOf('default', 7)]);
    await until(() => got.length === 1, 'the valid dispatch');
    expect(got[0]?.inputs).toEqual({ url: 'https://example.com', n: 7 });
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(dead).toMatchObject({ body: '{"not json', messageId: 'bad-1', queue: t.topology.workQueueName('default'), reason: 'rejected' });
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/dead-lettered a malformed dispatch message from queue "tw-test-\w+\.work\.default" \(message id bad-1\): message is not valid JSON/);
    expect(got).toHaveLength(1);
  });

  it('dead-letters a dispatch that fails the schema', async () => {
    const t = await open();
    const got: DispatchMessage[] = [];
    await t.consumeDispatches('default', { prefetch: 2 }, (d) => void got.push(d.body));
    const bad = { ...dispatchOf('default'), attempt: 'one' };
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: t.topology.workQueueName('default') }, Buffer.from(JSON.stringify(bad)));
    await publisher.close();
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(JSON.parse(dead.body)).toEqual(bad);
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/field "attempt" expected an integer >= 0, got "one" \(string\)/);
    expect(got).toEqual([]);
  });

  it('applies the limits to JSON bodies that rabbitmq-client parsed itself', async () => {
    const t = await open();
    const got = await collectDispatches(t, 2);
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    const queue = t.topology.workQueueName('default');
    // An object body is sent as `application/json` without content encoding: the client parses it on receipt.
    await publisher.send({ routingKey: queue, messageId: 'polluting' }, JSON.parse('{"__proto__": {"admin": true}, "type": "dispatch"}'));
    await publisher.send({ routingKey: queue }, dispatchOf('default', 3));
    await publisher.close();
    await until(() => got.length === 1, 'the valid dispatch');
    expect(got[0]).toEqual(dispatchOf('default', 3));
    const dead = await until(async () => (await t.peekDeadLetters(10))[0], 'the dead letter');
    expect(dead.messageId).toBe('polluting');
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/forbidden key "__proto__"/);
  });

  it('routes announcements by run, with dotted ids escaped', async () => {
    const t = await open();
    const mine: HistoryEntry[] = [];
    const other: HistoryEntry[] = [];
    const naive: HistoryEntry[] = [];
    await t.subscribe(runPattern('order.42'), (e) => void mine.push(e));
    await t.subscribe(runPattern('order-43'), (e) => void other.push(e));
    await t.subscribe('run.order.#', (e) => void naive.push(e));
    await t.announce([entryOf('order.42', 1), entryOf('order.42', 2, 'step.one')]);
    await t.announce([entryOf('order-43', 1)]); // sent after: once it arrives, the others have too
    await until(() => mine.length === 2 && other.length === 1, 'the announcements');
    expect(mine).toEqual([entryOf('order.42', 1), entryOf('order.42', 2, 'step.one')]);
    expect(other).toEqual([entryOf('order-43', 1)]);
    expect(naive).toEqual([]);
    expect(escapeSegment('a.b.c')).toBe('a~b~c');
  });

  it('broadcasts aborts to every worker', async () => {
    const t = await open();
    const a: unknown[] = [];
    const b: unknown[] = [];
    await t.consumeAborts((m) => void a.push(m));
    await t.consumeAborts((m) => void b.push(m));
    await t.abort([{ runId: 'r1', node: 'n1' }]);
    await until(() => a.length === 1 && b.length === 1, 'the aborts');
    expect(a).toEqual([{ runId: 'r1', node: 'n1' }]);
  });

  it('reconnects after the broker closes the connection', async () => {
    const name = `taskwire amqp.test ${randomUUID()}`;
    const t = await open({ connectionName: name });
    const got = await collectDispatches(t, 4);
    await t.dispatch([dispatchOf('default', 1)]);
    await until(() => got.length === 1, 'the first dispatch');
    const listing = execFileSync('rabbitmqctl', ['list_connections', '-q', 'pid', 'client_properties']).toString();
    const pid = listing.split('\n').find((line) => line.includes(`{"connection_name","${name}"}`))?.split('\t')[0];
    expect(pid).toMatch(/^<.+>$/);
    // Only our connection: `close_all_connections` would also cut other suites running against this broker.
    execFileSync('rabbitmqctl', ['close_connection', pid ?? '', 'test']);
    await until(() => lines.some((l) => l.level === 'warn' && /connection to amqp:\/\/guest:\*\*\*@/.test(l.message)), 'the warning');
    await t.dispatch([dispatchOf('default', 2)]);
    await until(() => got.length === 2, 'the dispatch after the reconnection', 30_000);
    expect(got[1]?.inputs['n']).toBe(2);
    expect(lines.some((l) => l.level === 'warn' && /reconnected to amqp:\/\/guest:\*\*\*@127\.0\.0\.1/.test(l.message))).toBe(true);
  }, 40_000);

  it('lets a cancelled consumer still ack what it holds', async () => {
    const t = await open();
    const got: Delivery<DispatchMessage>[] = [];
    const sub = await t.consumeDispatches('default', { prefetch: 1 }, (d) => void got.push(d));
    await t.dispatch([dispatchOf('default')]);
    const delivery = await until(() => got[0], 'the dispatch');
    await sub.cancel();
    delivery.ack();
    delivery.requeue(); // settled already: ignored
    const queue = t.topology.workQueueName('default');
    await t.close();
    const { messageCount } = await rabbit.raw.queueDeclare({ queue, passive: true });
    expect(messageCount).toBe(0);
  });

  it('rejects confirmed publishes that no queue takes', async () => {
    const t = await open();
    await t.signal([signalOf(0)]); // the publisher's channel (re)declares the topology when it opens
    await rabbit.raw.queueDelete({ queue: t.topology.signalQueueName(0) });
    await expect(t.signal([signalOf(1)])).rejects.toThrow(/1 of 1 messages were not confirmed by RabbitMQ: no queue bound/);
  });

  it('disables Nagle (noDelay) and hides the password of its options', async () => {
    const t = await open();
    expect(t.connectionOptions.noDelay).toBe(true);
    expect(t.connectionOptions.url).toBe(redactAmqpUrl(rabbit.url));
    expect(t.kind).toBe('amqp');
    expect(t.durable).toBe(true);
  });

  it('closes idempotently and refuses to publish afterwards', async () => {
    const t = await open();
    await Promise.all([t.close(), t.close()]);
    await t.close();
    await expect(t.dispatch([dispatchOf('default')])).rejects.toMatchObject({ code: 'TW_CLOSED' });
    await expect(t.announce([entryOf('r', 1)])).resolves.toBeUndefined();
  });

  it('fails to connect with an error that holds no password', async () => {
    const error = await connectAmqp({ url: 'amqp://user:s3cr%40t@127.0.0.1:1', connectTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cannot connect to RabbitMQ at amqp:\/\/user:\*\*\*@127\.0\.0\.1:1/);
    expect((error as Error).message).not.toMatch(/s3cr/);
  });
});

describe('AMQP helpers', () => {
  it('redacts passwords from URLs', () => {
    expect(redactAmqpUrl('amqp://guest:guest@localhost:5672/vhost')).toBe('amqp://guest:***@localhost:5672/vhost');
    expect(redactAmqpUrl('amqps://host')).toBe('amqps://host');
    expect(redactAmqpUrl('amqp://u:p@ss@ho st')).not.toMatch(/p@ss|:p@/);
  });

  it('names everything after the prefix and validates it', () => {
    const t = createTopology({ prefix: 'acme', deliveryLimit: 3 });
    expect(t.exchanges).toEqual({ work: 'acme.work', abort: 'acme.abort', events: 'acme.events', deadLetter: 'acme.dlx' });
    expect(t.workQueue('gpu')).toMatchObject({ queue: { queue: 'acme.work.gpu' }, binding: { exchange: 'acme.work', routingKey: 'gpu' } });
    expect(t.signalQueues.map((q) => [q.queue, q.arguments?.['x-delivery-limit']])).toEqual([['acme.signals', 3]]);
    expect(() => createTopology({ prefix: 'bad prefix' })).toThrow(/invalid AMQP prefix/);
    expect(() => createTopology({ deliveryLimit: 0 })).toThrow(/delivery limit/);
  });
});
