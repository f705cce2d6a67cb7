/**
 * The publishing half of the AMQP transport: a confirmed publisher for
 * dispatches and signals, a best-effort one for aborts and announcements.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Connection, Envelope, Publisher } from 'rabbitmq-client';
import type { Json } from '../../codec/json.js';
import { stringifyJson } from '../../codec/parse.js';
import type { Logger } from '../../observability/logger.js';
import { describeError } from './redact.js';
import type { MessageSigner } from './signing.js';
import type { Declarations } from './topology.js';
import { TransportError } from '../../errors.js';

/** The error of a failed connection or of messages the broker did not confirm. Its message holds no credentials. */
export class AmqpTransportError extends TransportError {}

/** A message to publish: where to, and the body (serialised as JSON). */
export type Outgoing = [envelope: Envelope, body: unknown];

/**
 * Our bodies are JSON text. The `utf-8` content encoding also keeps
 * rabbitmq-client from JSON.parsing them on receipt without limits, so that
 * consumers get the raw bytes for `parseJson`.
 */
const AMQP_JSON = { contentType: 'application/json', contentEncoding: 'utf-8' } as const;

/** `envelope` with the signature headers of `body` added, when signing is on. */
function signed(envelope: Envelope, body: Buffer, signer: MessageSigner | undefined): Envelope {
  if (signer === undefined) return envelope;
  return { ...envelope, headers: { ...envelope.headers, ...signer.sign(envelope, body) } };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The two publishers of a transport, on its connection. */
export class Publishers {
  private readonly confirmed: Publisher;
  private readonly bestEffort: Publisher;
  /** Ids of messages the broker returned as unroutable (mandatory flag). */
  private readonly returned = new Set<string>();

  constructor(
    private readonly connection: Connection,
    base: Declarations,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly url: string,
    private readonly signer?: MessageSigner,
  ) {
    // Each publisher declares the fixed topology whenever it opens a channel (after every reconnect).
    this.confirmed = connection.createPublisher({ confirm: true, maxAttempts: 2, ...base });
    this.confirmed.on('basic.return', (message: { messageId?: string }) => {
      if (message.messageId !== undefined) this.returned.add(message.messageId);
    });
    this.bestEffort = connection.createPublisher({ confirm: false, exchanges: base.exchanges });
  }

  private encode(envelope: Envelope, message: unknown): [Envelope, Buffer] {
    return this.encodeText(envelope, stringifyJson(message as Json, { maxBytes: this.maxBytes }));
  }

  private encodeText(envelope: Envelope, text: string): [Envelope, Buffer] {
    const body = Buffer.from(text, 'utf8');
    return [signed({ ...envelope, ...AMQP_JSON, messageId: randomUUID() }, body, this.signer), body];
  }

  /**
   * Publishes persistent, mandatory messages concurrently. Resolves when the
   * broker confirmed every one; rejects with {@link AmqpTransportError} if any was
   * nacked (e.g. a full queue: `reject-publish`), unroutable, or lost with the connection.
   */
  async publishConfirmed(items: Outgoing[]): Promise<void> {
    await this.sendConfirmed(items.map(([envelope, message]) => this.encode({ ...envelope, durable: true, mandatory: true }, message)));
  }

  /** {@link Publishers.publishConfirmed} of bodies already encoded as JSON text (batches, see batch.ts). */
  async publishConfirmedText(items: [envelope: Envelope, text: string][]): Promise<void> {
    await this.sendConfirmed(items.map(([envelope, text]) => this.encodeText({ ...envelope, durable: true, mandatory: true }, text)));
  }

  private async sendConfirmed(encoded: [Envelope, Buffer][]): Promise<void> {
    if (encoded.length === 0) return;
    const results = await Promise.allSettled(encoded.map(([envelope, body]) => this.confirmed.send(envelope, body)));
    await nextTurn(); // basic.return is emitted on setImmediate, after the ack resolved the send
    const failures: string[] = [];
    results.forEach((result, i) => {
      const envelope = (encoded[i] as [Envelope, Buffer])[0];
      if (this.returned.delete(envelope.messageId as string)) failures.push(`no queue bound for routing key "${envelope.routingKey ?? ''}"`);
      else if (result.status === 'rejected') failures.push(describeError(result.reason, this.url));
    });
    if (failures.length > 0) {
      throw new AmqpTransportError(`${failures.length} of ${encoded.length} messages were not confirmed by RabbitMQ: ${[...new Set(failures)].join('; ')}`);
    }
  }

  /** Publishes transient messages without confirms. Never throws: problems are logged as a warning. */
  async publishBestEffort(what: string, items: Outgoing[]): Promise<void> {
    if (items.length === 0) return;
    if (!this.connection.ready) {
      this.logger.warn({ count: items.length }, `AMQP: not connected; dropping ${items.length} ${what}(s)`);
      return;
    }
    const results = await Promise.allSettled(
      items.map(async ([envelope, message]) => {
        const [env, body] = this.encode({ ...envelope, durable: false }, message);
        await this.bestEffort.send(env, body);
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      const reason = describeError(failed[0]?.reason, this.url);
      this.logger.warn({ count: failed.length, reason }, `AMQP: ${failed.length} ${what}(s) could not be published: ${reason}`);
    }
  }

  /** Closes both publishers' channels. */
  async close(): Promise<void> {
    await Promise.allSettled([this.confirmed.close(), this.bestEffort.close()]);
  }
}
