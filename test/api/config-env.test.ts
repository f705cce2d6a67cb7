/**
 * One configuration rule everywhere: `connect()` takes its options from its
 * arguments, then the `TASKWIRE_*` environment variables (as the CLI does),
 * then defaults. Needs RabbitMQ and PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { WAIT } from './helpers.js';

const VARIABLES = ['TASKWIRE_PREFIX', 'TASKWIRE_SCHEMA', 'TASKWIRE_BROKER_URL', 'TASKWIRE_STORE_URL'] as const;

describe.skipIf(servicesSkipped())('connect() configuration from the environment [distributed]', () => {
  const saved = new Map(VARIABLES.map((name) => [name, process.env[name]]));
  const clients: Client[] = [];
  const suffix = Math.random().toString(36).slice(2, 10);
  const space = { prefix: `twtest-env-${suffix}`, schema: `tw_env_${suffix}` };

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await dropTestSpace(space);
  });

  it('honours TASKWIRE_PREFIX and TASKWIRE_SCHEMA like the CLI', async () => {
    const [broker, store] = await Promise.all([requireRabbit(), requirePostgres()]);
    const double = task('env-double', { requires: ['n'], apply: ({ n }: { n: number }) => n * 2 });
    // The worker and coordinator are told explicitly where to work ...
    const executor = await connect({ broker, store, ...space, worker: true, coordinator: true, tasks: [double] });
    clients.push(executor);
    // ... the client gets everything from the environment.
    Object.assign(process.env, { TASKWIRE_BROKER_URL: broker, TASKWIRE_STORE_URL: store, TASKWIRE_PREFIX: space.prefix, TASKWIRE_SCHEMA: space.schema });
    const client = await connect({ tasks: [double] });
    clients.push(client);
    const run = await client.start(flow('env').add(double.s({ n: 21 })));
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await executor.run(run.id).result('env-double')).toBe(42);
  });
});
