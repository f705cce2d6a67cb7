/**
 * Inspecting the dead-letter queue (issue 10, point 6) never crashes on what
 * it inspects: a deeply nested JSON body (which rabbitmq-client parses itself
 * when it carries no content encoding) is shown as its text.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../../src/observability/logger.js';
import { connectAmqp, type AmqpTransport } from '../../src/transport/amqp/index.js';
import type { DispatchMessage } from '../../src/transport/port.js';
import { requireRabbit, servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';

const LEVELS = 200_000;
const DEEP = '['.repeat(LEVELS) + ']'.repeat(LEVELS);

describe.skipIf(servicesSkipped())('peekDeadLetters on hostile messages', () => {
  let url: string;
  let raw: Connection;
  let transport: AmqpTransport | undefined;
  const errors: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (_fields: LogFields, message: string) => void errors.push(message),
    child: () => logger,
  };

  beforeAll(async () => {
    url = await requireRabbit();
    raw = new Connection({ url, connectionName: 'taskwire dead-letters.test raw' });
    raw.on('error', () => undefined);
    await raw.onConnect(10_000);
  });
  afterAll(async () => {
    await raw?.close();
  });
  afterEach(async () => {
    await transport?.purgeAndDelete();
    transport = undefined;
  });

  it(`shows a body nested ${LEVELS} levels deep as its text instead of throwing`, async () => {
    transport = await connectAmqp({ url, prefix: `tw-dead-${randomUUID().slice(0, 8)}`, signing: false, logger });
    const publisher = raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: transport.topology.queues.dead, messageId: 'deep', contentType: 'application/json' }, Buffer.from(DEEP));
    await publisher.send({ routingKey: transport.topology.queues.dead, messageId: 'deep-object', contentType: 'application/json' }, Buffer.from('{"a":'.repeat(LEVELS) + '1' + '}'.repeat(LEVELS)));
    await publisher.close();
    const letters = await until(async () => {
      const found = await transport?.peekDeadLetters(10);
      return found !== undefined && found.length === 2 && found;
    }, 'the two dead letters');
    expect(letters[0]).toMatchObject({ messageId: 'deep', body: DEEP });
    expect(letters[1]?.body).toBe('{"a":'.repeat(LEVELS) + '1' + '}'.repeat(LEVELS));
  });

  it('dead-letters a deeply nested dispatch with the depth limit as the reason, then peeks it', async () => {
    transport = await connectAmqp({ url, prefix: `tw-dead-${randomUUID().slice(0, 8)}`, signing: false, logger });
    const got: DispatchMessage[] = [];
    await transport.consumeDispatches('default', { prefetch: 1 }, (d) => (got.push(d.body), d.ack()));
    const publisher = raw.createPublisher({ confirm: true });
    await publisher.send({ routingKey: transport.topology.workQueueName('default'), messageId: 'deep-dispatch', contentType: 'application/json' }, Buffer.from(DEEP));
    await publisher.close();
    const letters = await until(async () => {
      const found = await transport?.peekDeadLetters(10);
      return found !== undefined && found.length === 1 && found;
    }, 'the dead letter');
    expect(letters[0]?.body).toBe(DEEP);
    expect(errors.some((e) => e.includes('deep-dispatch') && /nests deeper than the limit/.test(e))).toBe(true);
    expect(got).toEqual([]);
  });
});
