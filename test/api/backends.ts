/**
 * The backends the API suite runs against: write an API test once with
 * `describeBackends`, and it runs embedded (memory, SQLite) and distributed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { connect, type Client, type ConnectOptions } from '../../src/index.js';
import { dropTestSpace, prepareTestSchema, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';

/** A way to get a connected client. */
export interface Backend {
  /** Shown in test names. */
  name: string;
  /** Whether the backend is distributed (AMQP + PostgreSQL). */
  distributed: boolean;
  /** Connects a client that executes tasks in this process; closed by `cleanup`. */
  connect(options?: ConnectOptions): Promise<Client>;
  /** Closes every client connected and removes what the backend created. */
  cleanup(): Promise<void>;
}

type BackendFactory = () => Backend;

function embedded(name: string, store: () => { store: string; remove(): void }): BackendFactory {
  return () => {
    const clients: Client[] = [];
    const removals: (() => void)[] = [];
    return {
      name,
      distributed: false,
      async connect(options = {}) {
        const chosen = store();
        removals.push(chosen.remove);
        const client = await connect({ store: chosen.store, ...options });
        clients.push(client);
        return client;
      },
      async cleanup() {
        for (const client of clients.splice(0)) await client.close();
        for (const remove of removals.splice(0)) remove();
      },
    };
  };
}

const memory = embedded('embedded-memory', () => ({ store: 'memory', remove: () => undefined }));
const sqlite = embedded('embedded-sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-api-'));
  return { store: join(dir, 'runs.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
});

/**
 * Distributed: RabbitMQ + PostgreSQL, with the worker and coordinator roles in
 * this process (the multi-process tests live in test/distributed). Each test gets
 * its own AMQP prefix and PostgreSQL schema, deleted by `cleanup`.
 */
const distributed: BackendFactory = () => {
  const clients: Client[] = [];
  let space: { prefix: string; schema: string } | undefined;
  return {
    name: 'distributed',
    distributed: true,
    async connect(options = {}) {
      const [broker, store] = await Promise.all([requireRabbit(), requirePostgres()]);
      const suffix = Math.random().toString(36).slice(2, 10);
      if (space === undefined) {
        space = { prefix: `twtest-${suffix}`, schema: `tw_api_${suffix}` };
        await prepareTestSchema(space.schema);
      }
      const client = await connect({ broker, store, ...space, worker: true, coordinator: true, ...options });
      clients.push(client);
      return client;
    },
    async cleanup() {
      for (const client of clients.splice(0)) await client.close();
      if (space === undefined) return;
      const { prefix, schema } = space;
      space = undefined;
      await dropTestSpace({ prefix, schema }, ['default', 'gpu', 'slow']);
    },
  };
};

/** Every backend of the API suite (`TASKWIRE_SKIP_SERVICES=1` leaves out the distributed one). */
export const BACKENDS: BackendFactory[] = servicesSkipped() ? [memory, sqlite] : [memory, sqlite, distributed];

/**
 * Defines `body` once per backend, inside a `describe` named after it.
 * `body` gets a backend whose `cleanup` the test should call in `afterEach`.
 */
export function describeBackends(title: string, body: (backend: Backend) => void): void {
  for (const factory of BACKENDS) {
    const backend = factory();
    describe(`${title} [${backend.name}]`, () => body(backend));
  }
}
