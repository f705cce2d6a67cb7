/**
 * Checks that the external services the integration tests need are running,
 * failing with a message that says how to start them.
 *
 * Set `TASKWIRE_SKIP_SERVICES=1` to skip those tests instead
 * (`describe.skipIf(servicesSkipped())`).
 */
import { connect } from 'node:net';
import pg from 'pg';
import { migrate } from '../../src/store/postgres/migrations.js';
import { redactUrl } from '../../src/store/postgres/redact.js';
import { DEFAULT_SHARDS } from '../../src/store/postgres/shard-count.js';

/** Connection URL of the test PostgreSQL (`TASKWIRE_TEST_PG_URL`). */
export const PG_URL = process.env['TASKWIRE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Connection URL of the test RabbitMQ (`TASKWIRE_TEST_AMQP_URL`). */
export const AMQP_URL = process.env['TASKWIRE_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

const SKIP_HINT = 'or set TASKWIRE_SKIP_SERVICES=1 to skip the tests that need it';

/** Whether tests that need PostgreSQL or RabbitMQ are to be skipped (`TASKWIRE_SKIP_SERVICES=1`). */
export function servicesSkipped(): boolean {
  return process.env['TASKWIRE_SKIP_SERVICES'] === '1';
}

let postgres: Promise<string> | undefined;
let rabbit: Promise<string> | undefined;

/** Resolves to the PostgreSQL URL once `select 1` works there; rejects with how to start it. */
export function requirePostgres(): Promise<string> {
  postgres ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('select 1');
      return PG_URL;
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${redactUrl(PG_URL)} (${error instanceof Error ? error.message : String(error)}). ` +
          `Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ` +
          `(or point TASKWIRE_TEST_PG_URL at another server), ${SKIP_HINT}.`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgres;
}

/** Resolves to the AMQP URL once a TCP connection to its host and port succeeds; rejects with how to start RabbitMQ. */
export function requireRabbit(): Promise<string> {
  rabbit ??= new Promise<string>((resolve, reject) => {
    let host = '127.0.0.1';
    let port = 5672;
    try {
      const url = new URL(AMQP_URL);
      host = url.hostname || host;
      port = url.port === '' ? (url.protocol === 'amqps:' ? 5671 : 5672) : Number(url.port);
    } catch {
      // keep the defaults
    }
    const socket = connect({ host, port });
    socket.setTimeout(5000);
    const fail = (reason: string): void => {
      socket.destroy();
      reject(
        new Error(
          `RabbitMQ is not reachable at ${redactUrl(AMQP_URL)} (${reason}). Start it with: rabbitmq-server -detached ` +
            `(or point TASKWIRE_TEST_AMQP_URL at another server), ${SKIP_HINT}.`,
        ),
      );
    };
    socket.once('connect', () => {
      socket.end();
      resolve(AMQP_URL);
    });
    socket.once('timeout', () => fail('timed out'));
    socket.once('error', (error) => fail(error.message));
  });
  return rabbit;
}

/** A distributed test's own AMQP prefix and PostgreSQL schema. */
export interface TestSpace {
  prefix: string;
  schema: string;
}

/**
 * Shards of the schemas the distributed tests prepare with {@link prepareTestSchema}:
 * several (the signals of one test travel through several queues), but fewer
 * than the default, so that a test declares few quorum queues.
 */
export const TEST_SHARDS = 4;

/** Creates a test's schema with {@link TEST_SHARDS} shards (before any process opens it). */
export async function prepareTestSchema(schema: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: await requirePostgres(), max: 1 });
  try {
    await migrate(pool, schema, { shards: TEST_SHARDS });
  } finally {
    await pool.end();
  }
}

/**
 * Deletes a test space: the prefix's queues and exchanges (with these work
 * queues; the signal queues of up to the default shard count, whatever the
 * schema had), and the schema.
 */
export async function dropTestSpace(space: TestSpace, workQueues: string[] = ['default']): Promise<void> {
  const { deleteAmqpPrefix } = await import('../../src/transport/amqp/index.js');
  // Deleted by name, declaring nothing (connecting a transport would first declare every shard's quorum queue).
  await deleteAmqpPrefix({ url: await requireRabbit(), prefix: space.prefix, shards: DEFAULT_SHARDS }, workQueues);
  const db = new pg.Client({ connectionString: await requirePostgres() });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS "${space.schema}" CASCADE`);
  await db.end();
}
