/**
 * The set-up shared by suites that open AMQP transports on a real RabbitMQ: a
 * raw connection for peeking and forging, transports with a random prefix
 * whose queues and exchanges are deleted after each test, and captured logs
 * (checked after each test to hold no credentials).
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { connectAmqp, type AmqpOptions, type AmqpTransport } from '../../src/transport/amqp/index.js';
import { captureLogger, type Line } from './capture-logger.js';
import { requireRabbit } from './services.js';

/** What a suite using {@link useRabbit} works with. */
export interface RabbitFixture {
  /** The broker's URL (set in `beforeAll`). */
  readonly url: string;
  /** A plain connection to the broker, outside any transport. */
  readonly raw: Connection;
  /** Every line logged by the transports of the current test. */
  readonly lines: Line[];
  /** Opens a transport with a fresh prefix `<prefix>-<random>`, deleted after the test. */
  open(options?: Partial<Omit<AmqpOptions, 'url' | 'prefix' | 'logger'>>): Promise<AmqpTransport>;
  /** Opens another transport on the prefix of `peer` (another process of the same deployment), closed after the test. */
  join(peer: AmqpTransport, options?: Partial<Omit<AmqpOptions, 'url' | 'prefix' | 'logger'>>): Promise<AmqpTransport>;
}

/** Registers the suite's hooks (call it inside `describe`); `prefix` starts every transport's prefix. */
export function useRabbit(prefix: string): RabbitFixture {
  const lines: Line[] = [];
  let transports: AmqpTransport[] = [];
  /** Transports on the prefix of one of `transports`: closed, their topology deleted with it. */
  const joined: AmqpTransport[] = [];
  let url = '';
  let raw: Connection | undefined;

  beforeAll(async () => {
    url = await requireRabbit();
    raw = new Connection({ url, noDelay: true, connectionName: `taskwire ${prefix} raw` });
    raw.on('error', () => undefined);
    await raw.onConnect(10_000);
  });

  afterAll(async () => {
    await raw?.close();
  });

  afterEach(async () => {
    await Promise.all(joined.splice(0).map((t) => t.close()));
    await Promise.all(transports.map((t) => t.purgeAndDelete()));
    transports = [];
    // Credentials never reach the logs.
    for (const line of lines) expect(JSON.stringify(line)).not.toMatch(/:guest@/);
    lines.length = 0;
  });

  return {
    get url() {
      return url;
    },
    get raw() {
      if (raw === undefined) throw new Error('the RabbitMQ fixture is used before its beforeAll');
      return raw;
    },
    lines,
    async open(options = {}) {
      const transport = await connectAmqp({ url, prefix: `${prefix}-${randomUUID().slice(0, 8)}`, logger: captureLogger(lines), ...options });
      transports.push(transport);
      return transport;
    },
    async join(peer, options = {}) {
      const transport = await connectAmqp({ url, prefix: peer.topology.prefix, logger: captureLogger(lines), ...options });
      joined.push(transport);
      return transport;
    },
  };
}
