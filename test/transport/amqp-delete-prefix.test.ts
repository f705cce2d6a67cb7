/**
 * `deleteAmqpPrefix`: a prefix's queues deleted by name, declaring nothing, whatever number of
 * shards its processes used (the bench deleted only `<prefix>.signals` and left every shard's
 * quorum queue behind; the tests declared sixteen quorum queues only to delete them).
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAmqp, deleteAmqpPrefix } from '../../src/transport/amqp/index.js';
import { queueExists } from '../support/amqp-queues.js';
import { requireRabbit, servicesSkipped } from '../support/services.js';

describe.skipIf(servicesSkipped())('deleteAmqpPrefix', () => {
  let url = '';
  let raw: Connection;

  beforeAll(async () => {
    url = await requireRabbit();
    raw = new Connection({ url, connectionName: 'taskwire delete-prefix raw' });
    raw.on('error', () => undefined);
    await raw.onConnect(10_000);
  });

  afterAll(async () => {
    await raw.close();
  });

  const exists = (queue: string): Promise<boolean> => queueExists(raw, queue);

  it("deletes every shard's signal and request queues, the dead letters and the work queues", async () => {
    const prefix = `twdel-${randomUUID().slice(0, 8)}`;
    const transport = await connectAmqp({ url, prefix, shards: 4 });
    await transport.close();
    const declared = [`${prefix}.signals.0`, `${prefix}.signals.3`, `${prefix}.requests.3`, `${prefix}.dead`];
    for (const queue of declared) expect(await exists(queue), queue).toBe(true);
    await deleteAmqpPrefix({ url, prefix, shards: 16 }, ['default']);
    for (const queue of declared) expect(await exists(queue), queue).toBe(false);
    // Nothing was declared to be deleted: shards the prefix never had were never created.
    expect(await exists(`${prefix}.signals.15`)).toBe(false);
  });
});
