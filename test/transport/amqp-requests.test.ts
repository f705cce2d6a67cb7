/**
 * Requests and replies on the AMQP transport (issue 11, one writer per run): a
 * client's request reaches the consumer of its shard's request queue and the
 * answer comes back to it; a request nobody takes times out and expires;
 * forged, unsigned or misdirected requests are never handed to a coordinator.
 * Against a real RabbitMQ, a random prefix per test.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RequestDelivery, RunReply, RunRequest } from '../../src/transport/port.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

const KEY = 'k'.repeat(40);
const OTHER_KEY = 'o'.repeat(40);

const changeOf = (runId: string): RunRequest => ({ type: 'change', runId, changes: [{ op: 'cancel' }], actor: 'test', eventId: randomUUID() });

/** Answers every request with its runs `running`, keeping what it was asked. */
function answering(asked: RunRequest[]): (batch: RequestDelivery[]) => void {
  return (batch) => {
    for (const delivery of batch) {
      asked.push(delivery.body);
      const runIds = delivery.body.type === 'notify' ? delivery.body.notifications.flatMap((n) => n.runIds) : [delivery.body.runId];
      void delivery.reply({ outcomes: runIds.map((runId) => ({ runId, status: 'running', graphVersion: 1 })) }).then(() => delivery.ack());
    }
  };
}

describe.skipIf(servicesSkipped())('AMQP requests (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-req');
  const { lines } = rabbit;
  const count = (queue: string): Promise<{ messageCount: number }> => rabbit.raw.queueDeclare({ queue, passive: true });

  it('declares one request queue per shard and routes a request to the consumer of its shard, whose answer comes back', async () => {
    const coordinator = await rabbit.open({ shards: 4 });
    const prefix = coordinator.topology.prefix;
    expect(coordinator.topology.requestQueues.map((q) => q.queue)).toEqual([0, 1, 2, 3].map((s) => `${prefix}.requests.${s}`));
    const client = await rabbit.join(coordinator, { shards: 4 });
    const asked: RunRequest[] = [];
    await coordinator.consumeRequests({ prefetch: 10, shard: 2 }, answering(asked));
    const reply: RunReply = await client.request(2, changeOf('r1'), { timeoutMs: 5000 });
    expect(reply).toEqual({ outcomes: [{ runId: 'r1', status: 'running', graphVersion: 1 }] });
    expect(asked).toMatchObject([{ type: 'change', runId: 'r1', changes: [{ op: 'cancel' }] }]);
    // Nothing waits in the other shards' queues.
    for (const s of [0, 1, 3]) expect((await count(coordinator.topology.requestQueues[s]?.queue ?? '')).messageCount).toBe(0);
  });

  it('rejects with TW_TIMEOUT when no coordinator takes the request, and the request expires unapplied', async () => {
    const client = await rabbit.open({ shards: 2 });
    const queue = client.topology.requestQueues[1]?.queue ?? '';
    const error = await client.request(1, changeOf('r2'), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TW_TIMEOUT', name: 'RequestTimeoutError', shard: 1, timeoutMs: 300 });
    expect((error as Error).message).toMatch(/no coordinator answered the change of run "r2" within 300 ms \(shard 1\).*same run id \(start\) or event id \(notify\)/);
    // A coordinator that comes later never sees it: the broker dropped it when the client stopped waiting.
    await until(async () => (await count(queue)).messageCount === 0 || undefined, 'the request to expire');
    const asked: RunRequest[] = [];
    await client.consumeRequests({ prefetch: 10, shard: 1 }, answering(asked));
    await client.request(1, changeOf('r3'), { timeoutMs: 5000 });
    expect(asked.map((r) => (r.type === 'change' ? r.runId : ''))).toEqual(['r3']);
  });

  it('refuses a request over maxMessageBytes with TW_TOO_LARGE, before sending it', async () => {
    const client = await rabbit.open({ shards: 1, maxMessageBytes: 4096 });
    const big: RunRequest = { type: 'notify', notifications: [{ runIds: ['r'], event: 'e', payload: { blob: 'x'.repeat(5000) }, eventId: 'id' }] };
    await expect(client.request(0, big, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'TW_TOO_LARGE', name: 'TooLargeError' });
    expect((await count(client.topology.requestQueues[0]?.queue ?? '')).messageCount).toBe(0);
  });

  it('with signing on, never hands an unsigned or wrongly signed request to the coordinator; a signed one is answered', async () => {
    const coordinator = await rabbit.open({ shards: 1, signing: { keys: [KEY] } });
    const prefix = coordinator.topology.prefix;
    const asked: RunRequest[] = [];
    await coordinator.consumeRequests({ prefetch: 10 }, answering(asked));
    const queue = `${prefix}.requests`;
    // Unsigned, straight onto the queue (anyone who can publish to the broker).
    const forged = { replyTo: `${prefix}.replies.x`, correlationId: 'c1', request: changeOf('forged') };
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: queue, contentType: 'application/json', contentEncoding: 'utf-8' }, Buffer.from(JSON.stringify(forged)));
    await publisher.close();
    // Signed with a key the coordinator does not accept.
    const stranger = await rabbit.join(coordinator, { shards: 1, signing: { keys: [OTHER_KEY] } });
    await expect(stranger.request(0, changeOf('stranger'), { timeoutMs: 500 })).rejects.toMatchObject({ code: 'TW_TIMEOUT' });
    await until(() => lines.filter((l) => l.level === 'error' && /request with a refused signature/.test(l.message)).length === 2 || undefined, 'two refused requests');
    expect(lines.find((l) => /refused signature/.test(l.message) && /unsigned/.test(String(l.fields['reason'])))).toBeDefined();
    // A client with the key is answered; the coordinator never saw the others.
    const friend = await rabbit.join(coordinator, { shards: 1, signing: { keys: [KEY] } });
    await expect(friend.request(0, changeOf('friend'), { timeoutMs: 5000 })).resolves.toMatchObject({ outcomes: [{ runId: 'friend' }] });
    expect(asked.map((r) => (r.type === 'change' ? r.runId : ''))).toEqual(['friend']);
  });

  it('drops a malformed request and one whose reply queue is not of the prefix, with an error line', async () => {
    const coordinator = await rabbit.open({ shards: 1 });
    const prefix = coordinator.topology.prefix;
    const asked: RunRequest[] = [];
    await coordinator.consumeRequests({ prefetch: 10 }, answering(asked));
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    const send = (body: unknown): Promise<void> => publisher.send({ routingKey: `${prefix}.requests`, contentType: 'application/json', contentEncoding: 'utf-8' }, Buffer.from(JSON.stringify(body)));
    await send({ replyTo: `${prefix}.replies.x`, correlationId: 'c', request: { type: 'change', runId: 'r', changes: [{ op: 'explode' }], actor: 'a', eventId: 'e' } });
    // Would make the coordinator publish into a signal queue.
    await send({ replyTo: `${prefix}.signals`, correlationId: 'c', request: changeOf('r') });
    await until(() => lines.filter((l) => l.level === 'error').length === 2 || undefined, 'two error lines');
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([expect.stringMatching(/dropped a malformed request/), expect.stringMatching(/reply queue ".*\.signals" is not one of prefix/)]);
    expect(asked).toEqual([]);
    await publisher.close();
  });
});
