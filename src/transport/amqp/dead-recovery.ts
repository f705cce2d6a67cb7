/**
 * Recovery of dead letters that would leave a node `running` for ever, on
 * RabbitMQ. The dead-letter exchange copies every dead letter into
 * `<prefix>.dead.recovery`; what each one stands for (a failed attempt with
 * `TW_DELIVERY_LIMIT` for a dispatch, the signal itself for a signal) is
 * decided by the transport-independent `../delivery-limit.ts`, from the queue
 * and reason of its first death (`x-first-death-*` headers).
 *
 * Who consumes it: every process that consumes signals, whichever shards it
 * holds, with one consumer per transport (started by its first
 * `consumeSignals`, cancelled with its last); competing consumers are fine,
 * since recovering a letter only republishes it. The recovered signal must
 * reach its run's shard, which another process may own: it is published
 * (confirmed) to the signal queue of `shardOf(runId, shards)`, and the dead
 * letter is acknowledged only once the broker confirmed that publish. A publish
 * that fails gives the letter back to the recovery queue (after
 * {@link RECOVERY_RETRY_MS}): nothing is lost, and a duplicate signal is ignored
 * by the engine as usual.
 *
 * Every other dead letter (malformed bodies) is only dropped from that copy:
 * `<prefix>.dead` keeps it for diagnostics.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { AsyncMessage } from 'rabbitmq-client';
import { parseJson } from '../../codec/parse.js';
import { DecodeError } from '../../errors.js';
import { check } from '../../codec/schema.js';
import { shardOf } from '../../model/shard.js';
import type { Logger } from '../../observability/logger.js';
import { logRecovered, recoveredSignal as recover, type DeadLetterOrigin, type RecoveredQueues } from '../delivery-limit.js';
import type { SignalMessage, Subscription } from '../port.js';
import type { ConsumerSpec, Settle } from './consume.js';
import { rawBody } from './decode.js';
import { DispatchSchema, SignalSchema } from './messages.js';
import type { MessageSigner } from './signing.js';
import type { Topology } from './topology.js';

/** The `worker` field of the signals made from dead letters. */
export const DEAD_LETTER_WORKER = 'rabbitmq/dead-letter';

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined);

/** Where a dead letter died and why, from its `x-first-death-*` headers. */
function firstDeath(message: AsyncMessage): DeadLetterOrigin {
  const headers = message.headers ?? {};
  const queue = text(headers['x-first-death-queue']);
  const reason = text(headers['x-first-death-reason']);
  return { ...(queue === undefined ? {} : { queue }), ...(reason === undefined ? {} : { reason }) };
}

/**
 * The signals a dead letter stands for (see `../delivery-limit.ts`): one, or one
 * per item of a batch message (see batch.ts); empty when it is not one to
 * recover: not dead at a delivery limit, from another queue, or a body that is
 * not valid (an item that is not valid is skipped). `verify`, called on the
 * raw body of a letter to recover before it is parsed, throws to refuse it.
 */
export function recoveredSignals(message: AsyncMessage, queues: RecoveredQueues, maxBytes: number, verify?: (raw: string | Uint8Array) => void): SignalMessage[] {
  const origin = firstDeath(message);
  if (origin.reason !== 'delivery_limit') return [];
  let parsed: unknown;
  try {
    const raw = rawBody(message.body);
    verify?.(raw);
    parsed = parseJson(raw, { maxBytes });
  } catch {
    return [];
  }
  const items: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  return items.flatMap((item) => {
    const body = { dispatch: () => check(DispatchSchema, item, 'dispatch message'), signal: () => check(SignalSchema, item, 'signal message') };
    return recover(origin, body, queues, DEAD_LETTER_WORKER) ?? [];
  });
}

/**
 * Why the signature of a dead letter is refused, or `undefined` when it is
 * valid. Dead-lettering keeps the body, the headers and the routing key of the
 * message but not its exchange (the letter arrives from the dead-letter
 * exchange): the signature is checked against the exchange of its first death
 * (`x-first-death-exchange`), i.e. as it was first published. A letter forged
 * into the recovery queue by a publisher without the key is so refused.
 */
export function refusedLetter(message: AsyncMessage, raw: string | Uint8Array, signer: MessageSigner): string | undefined {
  const exchange = text(message.headers?.['x-first-death-exchange']) ?? '';
  const parts = { exchange, routingKey: message.routingKey, ...(message.messageId === undefined ? {} : { messageId: message.messageId }), headers: message.headers ?? {} };
  return signer.verify(parts, typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
}

/** How long a dead letter whose recovered signal could not be published waits before it goes back to the recovery queue, in ms. */
export const RECOVERY_RETRY_MS = 1000;

/** What {@link DeadLetterRecovery} needs of its transport. */
export interface RecoveryContext {
  /** The prefix's names; `shards` routes the recovered signals. */
  topology: Topology;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
  /** Where recoveries and failed publishes are logged. */
  logger: Logger;
  /** Starts a consumer (the transport's, re-declaring and resuming after reconnects). */
  consume(spec: ConsumerSpec): Promise<Subscription>;
  /** Publishes `signal` to signal queue `queue`, persistent; resolves once the broker confirmed it. */
  publish(queue: string, signal: SignalMessage): Promise<void>;
  /** Describes an error for the log (credentials scrubbed). */
  describe(error: unknown): string;
  /** With signing on: a letter is recovered only with a valid signature of its first publish ({@link refusedLetter}). */
  signer?: MessageSigner;
}

/**
 * The consumer of `<prefix>.dead.recovery` of one transport, shared by its
 * signal consumers (see above): {@link DeadLetterRecovery.acquire} starts it
 * for the first, and the last one's release cancels it.
 */
export class DeadLetterRecovery {
  private users = 0;
  private running: Promise<Subscription> | undefined;

  constructor(private readonly context: RecoveryContext) {}

  /**
   * Resolves once the recovery consumer runs (`prefetch`: letters in hand at
   * once, taken from the first caller), with the function that releases this use of it.
   */
  async acquire(prefetch: number): Promise<() => Promise<void>> {
    this.users++;
    const running = (this.running ??= this.start(prefetch));
    try {
      await running;
    } catch (error) {
      this.users--;
      if (this.running === running) this.running = undefined;
      throw error;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.users > 0 || this.running !== running) return;
      this.running = undefined;
      await (await running).cancel();
    };
  }

  private start(prefetch: number): Promise<Subscription> {
    const { topology, maxBytes } = this.context;
    const { prefix, queues, base } = topology;
    const queue = base.queues.find((q) => q.queue === queues.recovery) as ConsumerSpec['queue'];
    const recovered: RecoveredQueues = {
      dispatches: (name) => name.startsWith(`${prefix}.work.`) || name.startsWith(`${prefix}.quarantine.`),
      signals: (name) => topology.isSignalQueue(name),
    };
    return this.context.consume({
      queue,
      exchanges: base.exchanges,
      bindings: [],
      prefetch,
      noAck: false,
      onMessage: (message, settle) => {
        const signals = recoveredSignals(message, recovered, maxBytes, (raw) => this.verify(message, raw));
        if (signals.length === 0) settle('ack'); // `<prefix>.dead` keeps its copy
        else this.republish(signals, settle);
      },
    });
  }

  /** With signing on, throws (after an error line) when the signature of `message` is refused. */
  private verify(message: AsyncMessage, raw: string | Uint8Array): void {
    const { signer, logger, topology } = this.context;
    const refused = signer === undefined ? undefined : refusedLetter(message, raw, signer);
    if (refused === undefined) return;
    const queue = topology.queues.recovery;
    const id = message.messageId === undefined ? '' : ` (message id ${message.messageId})`;
    logger.error({ queue, reason: refused, messageId: message.messageId }, `AMQP: dropped a dead letter with a refused signature from queue "${queue}"${id}, never acted on: ${refused}`);
    throw new DecodeError(refused);
  }

  /** Publishes each signal to its run's signal queue, then acks their dead letter; gives the letter back (later) if a publish fails. */
  private republish(signals: SignalMessage[], settle: Settle): void {
    const { topology, logger } = this.context;
    const queueOf = (signal: SignalMessage): string => topology.signalQueueName(shardOf(signal.runId, topology.shards));
    Promise.all(signals.map((signal) => this.context.publish(queueOf(signal), signal))).then(
      () => {
        for (const signal of signals) logRecovered(logger, signal, DEAD_LETTER_WORKER, 'AMQP: ');
        settle('ack');
      },
      (error: unknown) => {
        const reason = this.context.describe(error);
        const [first] = signals as [SignalMessage];
        const what = signals.length === 1 ? `the ${first.type} signal` : `${signals.length} signals (the first a ${first.type})`;
        logger.warn(
          { runId: first.runId, node: first.node, attempt: first.attempt, queue: queueOf(first), reason },
          `AMQP: cannot publish ${what} recovered from a dead letter (run "${first.runId}", node "${first.node}") to queue "${queueOf(first)}"; ` +
            `the letter goes back to "${topology.queues.recovery}" to be tried again: ${reason}`,
        );
        setTimeout(() => settle('requeue'), RECOVERY_RETRY_MS).unref();
      },
    );
  }
}
