/**
 * `taskwire drop`, as a subprocess against the local PostgreSQL and RabbitMQ:
 * off a terminal it refuses without `--yes` (exit 2) and drops nothing; with
 * `--yes` it drops the schema and deletes the prefix's queues.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { connectAmqp } from '../../src/transport/amqp/index.js';
import { startedRun } from '../store/commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { queueExists as queueOnConnection } from '../support/amqp-queues.js';
import { requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { taskwire } from './helpers.js';

afterAll(endAdminPool);

async function schemaExists(schema: string): Promise<boolean> {
  return ((await (await adminPool()).query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount ?? 0) > 0;
}

async function queueExists(url: string, queue: string): Promise<boolean> {
  const raw = new Connection({ url, connectionName: 'taskwire drop test' });
  raw.on('error', () => undefined);
  try {
    await raw.onConnect(10_000);
    return await queueOnConnection(raw, queue);
  } finally {
    await raw.close();
  }
}

describe.skipIf(servicesSkipped())('taskwire drop', () => {
  it('refuses off a terminal without --yes, then drops the schema and the prefix\'s queues with it', async () => {
    const url = await requirePostgres();
    const amqp = await requireRabbit();
    const schema = schemaName();
    const prefix = `twdrop-${randomUUID().slice(0, 8)}`;
    try {
      const store = await openPostgresStore({ url, schema, shards: 2 });
      await store.commit([startedRun('doomed')]);
      await store.close();
      await (await connectAmqp({ url: amqp, prefix, shards: 2 })).close();
      const args = ['drop', '--store', url, '--schema', schema, '--broker', amqp, '--prefix', prefix];

      const refused = await taskwire(args);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`drop removes schema "${schema}" and AMQP prefix "${prefix}" and everything in it: pass --yes`);
      expect(await schemaExists(schema)).toBe(true);
      expect(await queueExists(amqp, `${prefix}.signals.1`)).toBe(true);

      const dropped = await taskwire([...args, '--yes']);
      expect(dropped.stderr).toBe('');
      expect(dropped.stdout).toContain(`dropped schema "${schema}"`);
      expect(dropped.stdout).toContain(`deleted the queues and exchanges of AMQP prefix "${prefix}"`);
      expect(await schemaExists(schema)).toBe(false);
      for (const queue of [`${prefix}.signals.0`, `${prefix}.signals.1`, `${prefix}.dead`]) expect(await queueExists(amqp, queue), queue).toBe(false);

      const nothing = await taskwire(['drop', '--yes']);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain('drop needs --store postgres://');
    } finally {
      await dropSchema(schema);
    }
  });
});
