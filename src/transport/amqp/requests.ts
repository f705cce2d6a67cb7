/**
 * Requests and replies over RabbitMQ: a client sends a start, notify or change
 * to the request queue of the run's shard (`<prefix>.requests.<s>`), persistent
 * and confirmed, expiring when the client stops waiting; the shard's
 * coordinator answers on the client's exclusive reply queue
 * (`<prefix>.replies.<id>`), matched by a correlation id. Both are signed and
 * checked like every other message (signing.ts, messages.ts): a request with a
 * refused signature or a malformed body is dropped with an error line, never
 * acted on, and its client times out.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { ClosedError, RequestTimeoutError, TooLargeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { RequestDelivery, RequestOptions, RunReply, RunRequest, Subscription } from '../port.js';
import { Batcher, callHandler, toDelivery, type ConsumerSpec, type ManagedConsumer } from './consume.js';
import { decodeBody } from './decode.js';
import { ReplyEnvelopeSchema, RequestEnvelopeSchema, type ReplyEnvelope, type RequestEnvelope } from './messages.js';
import type { Outgoing } from './publish.js';
import type { MessageSigner } from './signing.js';
import type { Topology } from './topology.js';

/** Room left in `maxMessageBytes` for what the envelope adds around a request. */
const ENVELOPE_BYTES = 256;

/** What the request and reply halves need from their transport. */
export interface RequestDeps {
  topology: Topology;
  maxBytes: number;
  logger: Logger;
  signer: MessageSigner | undefined;
  /** Publishes persistent, confirmed messages. */
  publishConfirmed(items: Outgoing[]): Promise<void>;
  /** Publishes transient messages, best effort. */
  publishBestEffort(what: string, items: Outgoing[]): Promise<void>;
  /** Starts a consumer. */
  consume(spec: ConsumerSpec): Promise<ManagedConsumer>;
}

/** What a request is about, for errors: `start of run "r"`, `notify of event "e" to 3 runs`, `notify of 5 notifications to 9 runs`. */
function describeRequest(request: RunRequest): string {
  switch (request.type) {
    case 'start':
      return `start of run "${request.runId}"`;
    case 'notify': {
      const [first, ...others] = request.notifications;
      if (first !== undefined && others.length === 0) return `notify of event "${first.event}" to ${first.runIds.length === 1 ? `run "${first.runIds[0]}"` : `${first.runIds.length} runs`}`;
      return `notify of ${request.notifications.length} notifications to ${request.notifications.reduce((n, { runIds }) => n + runIds.length, 0)} runs`;
    }
    case 'change':
      return `change of run "${request.runId}"`;
  }
}

/** A request waiting for its answer. */
interface Waiting {
  resolve(reply: RunReply): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/** The client half: one exclusive reply queue per transport, opened at the first request. */
export class RequestClient {
  private replyQueue: Promise<string> | undefined;
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly deps: RequestDeps) {}

  /** Sends `request` to shard `shard`'s coordinator; see `Transport.request`. */
  async request(shard: number, request: RunRequest, options: RequestOptions): Promise<RunReply> {
    const { topology, maxBytes } = this.deps;
    const queue = topology.requestQueues[shard]?.queue;
    if (queue === undefined) throw new RangeError(`shard ${shard} out of 0..${topology.shards - 1}`);
    const what = describeRequest(request);
    const bytes = Buffer.byteLength(JSON.stringify(request), 'utf8');
    if (bytes > maxBytes - ENVELOPE_BYTES) throw new TooLargeError(`the ${what} (its flow definition, inputs, payload or changes)`, bytes, maxBytes - ENVELOPE_BYTES);
    const replyTo = await this.openReplyQueue();
    const correlationId = randomUUID();
    const answer = new Promise<RunReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new RequestTimeoutError(what, shard, options.timeoutMs));
      }, options.timeoutMs);
      this.waiting.set(correlationId, { resolve, reject, timer });
    });
    answer.catch(() => undefined); // awaited below, once the publish is confirmed
    const envelope: RequestEnvelope = { replyTo, correlationId, request };
    try {
      // Expires with the client's wait: a request nobody took by then is never applied.
      await this.deps.publishConfirmed([[{ exchange: '', routingKey: queue, expiration: String(Math.max(1, Math.ceil(options.timeoutMs))) }, envelope]]);
    } catch (error) {
      this.settle(correlationId)?.reject(error);
    }
    return answer;
  }

  /** Fails every request still waiting (the transport closes). */
  close(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id)?.reject(new ClosedError('AMQP transport'));
  }

  private settle(correlationId: string): Waiting | undefined {
    const waiting = this.waiting.get(correlationId);
    if (waiting === undefined) return undefined;
    this.waiting.delete(correlationId);
    clearTimeout(waiting.timer);
    return waiting;
  }

  private openReplyQueue(): Promise<string> {
    if (this.replyQueue !== undefined) return this.replyQueue;
    const { topology, logger, maxBytes, signer } = this.deps;
    const queue = topology.privateQueue('replies', randomUUID());
    const decode = { queue: queue.queue, what: 'reply', schema: ReplyEnvelopeSchema, maxBytes, logger, fate: 'dropped', ...(signer === undefined ? {} : { signer }) };
    const opened = this.deps
      .consume({
        queue,
        exchanges: [],
        bindings: [],
        noAck: true,
        onMessage: (message) => {
          const body: ReplyEnvelope | undefined = decodeBody(message, decode);
          if (body !== undefined) this.settle(body.correlationId)?.resolve(body.reply);
        },
      })
      .then(() => queue.queue);
    // A failed open is tried again by the next request.
    opened.catch(() => (this.replyQueue = undefined));
    this.replyQueue = opened;
    return opened;
  }
}

/**
 * The coordinator half: consumes shard `shard`'s request queue, in batches of
 * what has arrived; each delivery answers on its client's reply queue. A
 * request whose `replyTo` is not a reply queue of the prefix is dropped as malformed.
 */
export async function consumeRequestQueue(deps: RequestDeps, shard: number, prefetch: number, handler: (batch: RequestDelivery[]) => void): Promise<Subscription> {
  const { topology, logger, maxBytes, signer } = deps;
  const declaration = topology.requestQueues[shard] as ConsumerSpec['queue'];
  const queue = declaration.queue;
  const replies = `${topology.prefix}.replies.`;
  const decode = { queue, what: 'request', schema: RequestEnvelopeSchema, maxBytes, logger, fate: 'dropped', ...(signer === undefined ? {} : { signer }) };
  let cancelled = false;
  const batcher = new Batcher<RunRequest, RequestDelivery>(prefetch, (batch) => {
    if (cancelled) for (const delivery of batch) delivery.requeue();
    else callHandler(logger, queue, handler, batch, batch);
  });
  const subscription = await deps.consume({
    queue: declaration,
    exchanges: [],
    bindings: [],
    prefetch,
    noAck: false,
    onMessage: (message, settle) => {
      const envelope = decodeBody(message, decode);
      if (envelope === undefined) return settle('reject');
      if (!envelope.replyTo.startsWith(replies)) {
        logger.error({ queue, replyTo: envelope.replyTo }, `AMQP: dropped a request from queue "${queue}" whose reply queue "${envelope.replyTo}" is not one of prefix "${topology.prefix}"`);
        return settle('reject');
      }
      const reply = (answer: RunReply): Promise<void> => deps.publishBestEffort('reply', [[{ exchange: '', routingKey: envelope.replyTo }, { correlationId: envelope.correlationId, reply: answer } satisfies ReplyEnvelope]]);
      batcher.add({ ...toDelivery(envelope.request, message, settle), reply });
    },
  });
  return { cancel: () => ((cancelled = true), subscription.cancel()) };
}
