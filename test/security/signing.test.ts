/**
 * Message signing (issue 10, point 1): with a key, every message is signed, and
 * a forged message of each kind (dispatch, signal, abort, announcement) that is
 * unsigned, stale or signed with another key is refused with an error line and
 * never reaches a handler; a real run is not moved by a forged signal.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import { connectAmqp, MessageSigner, signingFromEnv, type AmqpTransport } from '../../src/transport/amqp/index.js';
import { shardOf } from '../../src/model/shard.js';
import { announcementRoutingKey } from '../../src/transport/amqp/topology.js';
import type { AbortMessage, DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { deferred } from '../api/helpers.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { until } from '../support/until.js';
import { dropTestSpace, prepareTestSchema, requirePostgres, requireRabbit, servicesSkipped, TEST_SHARDS } from '../support/services.js';

const KEY = 'k'.repeat(32) + '-current';
const OLD_KEY = 'o'.repeat(32) + '-previous';
const OTHER_KEY = 'x'.repeat(32) + '-attacker';
const DAY = 24 * 60 * 60 * 1000;

describe('MessageSigner', () => {
  const parts = { exchange: 'tw.work', routingKey: 'default', messageId: 'm1', headers: { traceparent: 't' } };
  const body = Buffer.from('{"a":1}');

  it('accepts what it signed, with the current or the previous key (rotation)', () => {
    const signer = new MessageSigner({ keys: [KEY, OLD_KEY] });
    expect(signer.verify({ ...parts, headers: { ...parts.headers, ...signer.sign(parts, body) } }, body)).toBeUndefined();
    const old = new MessageSigner({ keys: [OLD_KEY] });
    expect(signer.verify({ ...parts, headers: { ...parts.headers, ...old.sign(parts, body) } }, body)).toBeUndefined();
    expect(old.verify({ ...parts, headers: { ...parts.headers, ...signer.sign(parts, body) } }, body)).toMatch(/^bad signature/);
  });

  it('refuses a changed body, route, message id or trace header', () => {
    const signer = new MessageSigner({ keys: [KEY] });
    const headers = { ...parts.headers, ...signer.sign(parts, body) };
    expect(signer.verify({ ...parts, headers }, Buffer.from('{"a":2}'))).toMatch(/^bad signature/);
    expect(signer.verify({ ...parts, routingKey: 'gpu', headers }, body)).toMatch(/^bad signature/);
    expect(signer.verify({ ...parts, messageId: 'm2', headers }, body)).toMatch(/^bad signature/);
    expect(signer.verify({ ...parts, headers: { ...headers, traceparent: 'u' } }, body)).toMatch(/^bad signature/);
  });

  it('refuses unsigned, stale and future messages', () => {
    let now = 1_000 * DAY;
    const signer = new MessageSigner({ keys: [KEY], now: () => now });
    expect(signer.verify(parts, body)).toMatch(/^unsigned/);
    const headers = { ...parts.headers, ...signer.sign(parts, body) };
    now += DAY + 1000;
    expect(signer.verify({ ...parts, headers }, body)).toMatch(/^stale/);
    now -= DAY + 10 * 60 * 1000;
    expect(signer.verify({ ...parts, headers }, body)).toMatch(/in the future/);
  });

  it('refuses short keys and reads TASKWIRE_SIGNING_KEY (and _PREVIOUS)', () => {
    expect(() => new MessageSigner({ keys: ['short'] })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => new MessageSigner({ keys: [] })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(signingFromEnv({})).toBeUndefined();
    expect(signingFromEnv({ TASKWIRE_SIGNING_KEY: KEY })).toEqual({ keys: [KEY] });
    expect(signingFromEnv({ TASKWIRE_SIGNING_KEY: KEY, TASKWIRE_SIGNING_KEY_PREVIOUS: OLD_KEY })).toEqual({ keys: [KEY, OLD_KEY] });
  });
});

describe.skipIf(servicesSkipped())('signed AMQP transport (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-sign');
  const { lines } = rabbit;
  const open = (): Promise<AmqpTransport> => rabbit.open({ signing: { keys: [KEY, OLD_KEY] } });

  /** Three forgeries of one message: unsigned, signed long ago with a valid key, signed now with another key. */
  async function forge(exchange: string, routingKey: string, message: unknown): Promise<string[]> {
    const body = Buffer.from(JSON.stringify(message));
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    const ids: string[] = [];
    const signers: (MessageSigner | undefined)[] = [
      undefined,
      new MessageSigner({ keys: [KEY], now: () => Date.now() - 2 * DAY }),
      new MessageSigner({ keys: [OTHER_KEY] }),
    ];
    for (const signer of signers) {
      const envelope = { exchange, routingKey, messageId: `forged-${ids.length}`, contentType: 'application/json', contentEncoding: 'utf-8' };
      ids.push(envelope.messageId);
      await publisher.send({ ...envelope, headers: signer?.sign(envelope, body) ?? {} }, body);
    }
    await publisher.close();
    return ids;
  }

  function refusals(): string[] {
    return lines.filter((l) => l.level === 'error' && l.message.includes('with a refused signature')).map((l) => l.message);
  }

  function expectThreeRefusals(what: string, fate: string): void {
    const refused = refusals();
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(new RegExp(`${fate} a ${what} with a refused signature .*\\(message id forged-0\\), never acted on: unsigned`));
    expect(refused[1]).toMatch(/\(message id forged-1\).*stale/);
    expect(refused[2]).toMatch(/\(message id forged-2\).*bad signature/);
  }

  it('refuses forged dispatches (dead-lettered) and runs signed ones', async () => {
    const t = await open();
    const got: DispatchMessage[] = [];
    await t.consumeDispatches('default', { prefetch: 4 }, (d) => (got.push(d.body), d.ack()));
    const forged: DispatchMessage = { type: 'dispatch', kind: 'apply', runId: 'r', node: 'n', attempt: 1, task: 'shell', inputs: { cmd: 'rm -rf /' }, timeoutMs: 0, queue: 'default' };
    await forge(t.topology.exchanges.work, 'default', forged);
    const dead = await until(async () => {
      const letters = await t.peekDeadLetters(10);
      return letters.length === 3 && letters;
    }, 'three dead letters');
    expect(dead.map((d) => d.messageId).sort()).toEqual(['forged-0', 'forged-1', 'forged-2']);
    await t.dispatch([{ ...forged, inputs: { cmd: 'echo ok' } }]);
    await until(() => got.length === 1, 'the signed dispatch');
    expect(got[0]?.inputs).toEqual({ cmd: 'echo ok' });
    expectThreeRefusals('dispatch message', 'dead-lettered');
  });

  it('refuses forged signals (dead-lettered) and takes signed ones', async () => {
    const t = await open();
    const got: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 4 }, (batch) => batch.forEach((d) => (got.push(d.body), d.ack())));
    const forged: SignalMessage = { type: 'task.succeeded', runId: 'r', node: 'n', attempt: 1, worker: 'evil', result: 'FORGED' };
    await forge('', t.topology.signalQueueName(0), forged);
    await until(async () => (await t.peekDeadLetters(10)).length === 3, 'three dead letters');
    await t.signal([{ ...forged, result: 'real', worker: 'w' }]);
    await until(() => got.length === 1, 'the signed signal');
    expect(got.map((s) => s.type === 'task.succeeded' && s.result)).toEqual(['real']);
    expectThreeRefusals('signal message', 'dead-lettered');
  });

  it('recovers no forged dead letter: a letter in the recovery queue must carry the signature of its first publish', async () => {
    // Regression: recovered letters were taken without a signature check (and are now published again, signed).
    const t = await rabbit.open({ signing: { keys: [KEY, OLD_KEY] }, shards: 2, deliveryLimit: 1 });
    const runId = 'r';
    const signals = t.topology.signalQueueName(shardOf(runId, 2));
    // The recovery runs beside the other shard's consumer: what it publishes to the run's shard stays in that queue.
    await t.consumeSignals({ prefetch: 4, shard: 1 - shardOf(runId, 2) }, (batch) => batch.forEach((d) => d.ack()));
    const forged: SignalMessage = { type: 'task.succeeded', runId, node: 'n', attempt: 1, worker: 'evil', result: 'FORGED' };
    // As if the signal had died at the delivery limit of its queue: headers forged, published straight to the recovery queue.
    const death = { 'x-first-death-queue': signals, 'x-first-death-reason': 'delivery_limit', 'x-first-death-exchange': '' };
    const body = Buffer.from(JSON.stringify(forged));
    const publisher = rabbit.raw.createPublisher({ confirm: true });
    const signers = [undefined, new MessageSigner({ keys: [KEY], now: () => Date.now() - 2 * DAY }), new MessageSigner({ keys: [OTHER_KEY] })];
    for (const [i, signer] of signers.entries()) {
      const envelope = { exchange: '', routingKey: t.topology.queues.recovery, messageId: `forged-${i}`, contentType: 'application/json', contentEncoding: 'utf-8' };
      await publisher.send({ ...envelope, headers: { ...death, ...signer?.sign(envelope, body) } }, body);
    }
    await publisher.close();
    await until(() => refusals().length === 3 || undefined, 'three refusals');
    expect(refusals()[0]).toMatch(/dropped a dead letter with a refused signature from queue "tw-sign-\w+\.dead\.recovery" \(message id forged-0\), never acted on: unsigned/);
    // A real dispatch dead at the delivery limit is still recovered (its signature checked against where it was first published).
    await t.consumeDispatches('default', { prefetch: 1 }, (d) => d.requeue());
    await t.dispatch([{ type: 'dispatch', kind: 'apply', runId, node: 'n', attempt: 1, task: 't', inputs: {}, timeoutMs: 0, queue: 'default' }]);
    const recovered = await until(() => rabbit.raw.basicGet({ queue: signals, noAck: true }), 'the recovered failed signal');
    expect(JSON.parse(Buffer.from(recovered.body as Buffer).toString('utf8'))).toMatchObject({ type: 'task.failed', runId, worker: 'rabbitmq/dead-letter' });
    expect(await rabbit.raw.queueDeclare({ queue: signals, passive: true })).toMatchObject({ messageCount: 0 });
    expect(refusals()).toHaveLength(3);
  });

  it('drops forged aborts and announcements, and takes signed ones', async () => {
    const t = await open();
    const aborts: AbortMessage[] = [];
    const entries: HistoryEntry[] = [];
    await t.consumeAborts((a) => void aborts.push(a));
    await t.subscribe('run.#', (e) => void entries.push(e));
    await forge(t.topology.exchanges.abort, '', { runId: 'r' });
    const entry: HistoryEntry = { runId: 'r', seq: 1, at: 1, type: 'run.started', graphVersion: 1 };
    await forge(t.topology.exchanges.events, announcementRoutingKey(entry), entry);
    await until(() => refusals().length === 6, 'six refusals');
    await t.abort([{ runId: 'real' }]);
    await t.announce([{ ...entry, runId: 'real' }]);
    await until(() => aborts.length === 1 && entries.length === 1, 'the signed abort and announcement');
    expect(aborts).toEqual([{ runId: 'real' }]);
    expect(entries.map((e) => e.runId)).toEqual(['real']);
    expect(refusals().filter((l) => l.includes('dropped an abort message'))).toHaveLength(3);
    expect(refusals().filter((l) => l.includes('dropped an announcement'))).toHaveLength(3);
  });
});

describe.skipIf(servicesSkipped())('a signed distributed run', () => {
  let client: Client | undefined;
  let space: { prefix: string; schema: string } | undefined;

  afterEach(async () => {
    await client?.close();
    if (space !== undefined) await dropTestSpace(space, ['default']);
    client = undefined;
    space = undefined;
  });

  it('is not completed by a forged task.succeeded: the node finishes with its real result', async () => {
    const [broker, store] = await Promise.all([requireRabbit(), requirePostgres()]);
    const suffix = randomUUID().slice(0, 8);
    space = { prefix: `tw-sign-${suffix}`, schema: `tw_sign_${suffix}` };
    await prepareTestSchema(space.schema);
    const gate = deferred();
    let started = false;
    const slow = task('sign-slow', { apply: async () => ((started = true), await gate.promise, 'REAL') });
    // The option of connect(); processes started from the CLI read TASKWIRE_SIGNING_KEY (test/cli/distributed.test.ts).
    client = await connect({ broker, store, ...space, worker: true, coordinator: true, tasks: [slow], signing: { keys: [KEY] } });
    const run = await client.start(flow('signed').add(slow.s()));
    await until(() => started, 'the task to start');
    await until(async () => (await run.status()).nodes['sign-slow']?.status === 'running', 'its start reported');
    const forger = new Connection({ url: broker, connectionName: 'taskwire signing.test forger' });
    forger.on('error', () => undefined);
    const publisher = forger.createPublisher({ confirm: true });
    const forged: SignalMessage = { type: 'task.succeeded', runId: run.id, node: 'sign-slow', attempt: 1, worker: 'evil', result: 'FORGED' };
    await publisher.send({ exchange: '', routingKey: `${space.prefix}.signals.${shardOf(run.id, TEST_SHARDS)}`, contentType: 'application/json', contentEncoding: 'utf-8' }, Buffer.from(JSON.stringify(forged)));
    await publisher.close();
    await forger.close();
    // The forged signal ends in the dead-letter queue; the node is still running.
    const transport = await connectAmqp({ url: broker, prefix: space.prefix, signing: false });
    await until(async () => (await transport.peekDeadLetters(5)).length === 1, 'the forged signal in the dead-letter queue');
    await transport.close();
    expect((await run.status()).nodes['sign-slow']?.status).toBe('running');
    gate.resolve();
    await run.wait({ timeoutMs: 20_000 });
    expect(await run.result('sign-slow')).toBe('REAL');
  });
});
