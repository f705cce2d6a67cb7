/**
 * Quarantine of redelivered dispatches, transport-independent. When a worker
 * process dies (a task that calls `process.exit`, an out-of-memory kill,
 * kill -9), a durable broker hands back every dispatch it held, the innocent
 * ones with the poison, and raises their delivery counts alike: without
 * isolation they reach the delivery limit together. So a dispatch that comes
 * back redelivered is not executed beside others: the transport moves it to
 * the queue's quarantine queue (consumed with prefetch 1), and what it takes
 * from there runs alone in its process, every dispatch consumer of the process
 * paused and drained first. An innocent dispatch then succeeds on its next
 * delivery; only the poison keeps dying, and reaches the quarantine queue's
 * delivery limit alone (see `delivery-limit.ts`).
 *
 * A transport brings the queues (the AMQP adapter: `<prefix>.quarantine.<queue>`;
 * the simulated bus of `test/sim`), {@link Quarantine} the policy.
 *
 * @packageDocumentation
 */
import type { Logger } from '../observability/logger.js';
import type { Delivery, DispatchMessage } from './port.js';

/** A consumer that can stop taking deliveries for a while. */
export interface PausableConsumer {
  /** Stops deliveries (those in hand stay settleable); resolves once none is left unsettled. */
  pause(): Promise<void>;
  /** Takes deliveries again (a no-op once cancelled). */
  resume(): void;
}

/**
 * One process's isolation gate: {@link Isolation.acquire} waits for the other
 * quarantined executions to end, pauses every registered dispatch consumer and
 * waits until none holds an unsettled message.
 */
export class Isolation {
  private readonly consumers = new Set<PausableConsumer>();
  private tail: Promise<void> = Promise.resolve();

  /** Registers a dispatch consumer to pause while a quarantined dispatch runs. */
  add(consumer: PausableConsumer): void {
    this.consumers.add(consumer);
  }

  /** Forgets a dispatch consumer (cancelled). */
  delete(consumer: PausableConsumer): void {
    this.consumers.delete(consumer);
  }

  /**
   * Resolves once this process executes no other dispatch, with the function
   * that ends the isolation (idempotent): it resumes the paused consumers.
   */
  async acquire(): Promise<() => void> {
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    await previous;
    const paused = [...this.consumers];
    await Promise.all(paused.map((consumer) => consumer.pause()));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const consumer of paused) consumer.resume();
      done();
    };
  }
}

/** Options of {@link Quarantine}. */
export interface QuarantineOptions {
  /** The process's isolation gate (one per transport instance). */
  isolation: Isolation;
  /** The worker's handler of dispatches. */
  handler: (delivery: Delivery<DispatchMessage>) => void;
  /** Where moves are logged. */
  logger: Logger;
  /** The quarantine queue's name, for the log lines. */
  queue: string;
  /** Prefix of the log lines, naming the transport (e.g. `AMQP: `). */
  logPrefix: string;
  /** Describes a failed move for the log (the AMQP adapter scrubs credentials). @default the error's message */
  describe?: (error: unknown) => string;
}

/**
 * The policy of one work queue and its quarantine queue: a redelivered dispatch
 * taken from the work queue is moved to the quarantine queue (then acknowledged;
 * given back if the move fails), the others go to the handler; a dispatch taken
 * from the quarantine queue goes to the handler once it runs alone (see
 * {@link Isolation}), marked redelivered, and its settlement ends the isolation.
 */
export class Quarantine {
  private cancelled = false;

  constructor(private readonly options: QuarantineOptions) {}

  /** A delivery of the work queue; `move` publishes its body to the quarantine queue (resolves once the broker holds it). */
  fromWorkQueue(delivery: Delivery<DispatchMessage>, move: () => Promise<void>): void {
    if (!delivery.redelivered) return this.options.handler(delivery);
    const { logger, queue, logPrefix } = this.options;
    const body = delivery.body;
    const fields = { runId: body.runId, node: body.node, attempt: body.attempt, task: body.task };
    move().then(
      () => {
        logger.info(fields, `${logPrefix}dispatch of task "${body.task}" (run "${body.runId}", node "${body.node}") was delivered again (a worker died or gave it back): quarantined in "${queue}", it will run alone`);
        delivery.ack();
      },
      (error: unknown) => {
        const reason = this.options.describe?.(error) ?? (error instanceof Error ? error.message : String(error));
        logger.warn({ ...fields, reason }, `${logPrefix}cannot quarantine a redelivered dispatch; it goes back to its queue: ${reason}`);
        delivery.requeue();
      },
    );
  }

  /** A delivery of the quarantine queue (prefetch 1): handed on once nothing else runs in this process. */
  fromQuarantine(delivery: Delivery<DispatchMessage>): void {
    void this.options.isolation.acquire().then((release) => {
      if (this.cancelled) {
        release();
        return delivery.requeue();
      }
      const settling = (settle: () => void) => () => {
        settle();
        release();
      };
      this.options.handler({
        body: delivery.body,
        redelivered: true,
        ack: settling(() => delivery.ack()),
        requeue: settling(() => delivery.requeue()),
        reject: settling(() => delivery.reject()),
      });
    });
  }

  /** Stops handing quarantined dispatches on: those still waiting to run alone are given back. */
  cancel(): void {
    this.cancelled = true;
  }
}
