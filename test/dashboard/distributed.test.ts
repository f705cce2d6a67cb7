/**
 * The dashboard on PostgreSQL + RabbitMQ: what it reports, that no answer holds
 * a connection URL, and the queues: depth and consumers, a dead letter listed
 * and sent back.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flow, task } from '../../src/index.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';
import { json, testDashboard, type TestDashboard } from './serve.js';

const double = task('dashd.double', { requires: ['x'], apply: ({ x }: { x: number }) => 2 * x });

describe.skipIf(servicesSkipped())('dashboard, distributed', () => {
  const suffix = randomUUID().slice(0, 8);
  const space = { prefix: `twdash-${suffix}`, schema: `tw_dash_${suffix}` };
  let dash: TestDashboard;
  let broker: string;
  let storeUrl: string;
  beforeAll(async () => {
    broker = await requireRabbit();
    storeUrl = await requirePostgres();
    dash = await testDashboard({ tasks: [double], distributed: { broker, store: storeUrl, ...space } });
  });
  afterAll(async () => {
    await dash?.close();
    await dropTestSpace(space);
  });

  it('reports postgres and amqp, and no answer holds a connection URL or its password', async () => {
    const run = await dash.client.start(flow('dashd').add(double.s({ x: 4 })));
    await run.wait({ timeoutMs: 30_000 });
    const bodies = await Promise.all(['/api/me', '/api/runs', `/api/runs/${run.id}`, '/api/workers', '/api/queues', '/api/runs/missing'].map(async (path) => (await dash.call(path)).text()));
    expect(JSON.parse(bodies[0] as string)).toMatchObject({ store: 'postgres', transport: 'amqp' });
    const secrets = [storeUrl, broker, new URL(broker).password, new URL(storeUrl).password].filter((s) => s !== '');
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
    for (const body of bodies) expect(body).not.toMatch(/amqps?:\/\/|postgres(ql)?:\/\//);
  });

  it('shows the work queue with its consumer, lists a dead letter that died in it and sends it back', async () => {
    const queue = `${space.prefix}.work.default`;
    const queues = await json<{ queues: { name: string; consumers: number }[] }>(await dash.call('/api/queues'));
    expect(queues.queues.find((q) => q.name === queue)?.consumers).toBeGreaterThanOrEqual(1);
    // A body no worker can read: it is rejected and dead-lettered.
    const connection = new Connection({ url: broker });
    try {
      const publisher = connection.createPublisher({ confirm: true });
      await publisher.send({ exchange: '', routingKey: queue }, Buffer.from('not a dispatch'));
      await publisher.close();
    } finally {
      await connection.close();
    }
    const dead = await until(async () => {
      const { messages } = await json<{ messages: { id: string; reason?: string; body: unknown }[] }>(await dash.call(`/api/queues/${queue}/dead`));
      return messages.length > 0 ? messages : undefined;
    }, 'the dead letter');
    expect(dead[0]).toMatchObject({ reason: 'rejected', body: 'not a dispatch' });
    const requeued = await json<{ requeued: number }>(await dash.post(`/api/queues/${queue}/dead/requeue`, { ids: [dead[0]!.id] }));
    expect(requeued.requeued).toBe(1);
    // Sent back, it is rejected again and dead once more: one letter (the original was removed), counted as sent back once.
    const again = await until(async () => {
      const { messages } = await json<{ messages: { id: string; sentBack?: number; body: unknown }[] }>(await dash.call(`/api/queues/${queue}/dead`));
      return messages.length === 1 && messages[0]!.sentBack === 1 ? messages[0] : undefined;
    }, 'the letter to die again');
    expect(again).toMatchObject({ reason: 'rejected', body: 'not a dispatch' });
    expect(again.id).not.toBe(dead[0]!.id);
    expect((await dash.post(`/api/queues/${queue}/dead/requeue`, { ids: ['nope'] })).status).toBe(404);
  });
});
