/**
 * Timers for retries and lease ends, with a non-durable transport (in-process):
 * the outbox poller fires them otherwise. A timer whose step fails (the store is
 * down for longer than a client event's tries) is set again: the node must not
 * stay `retrying` until the next restart.
 *
 * @packageDocumentation
 */
import type { Command, EngineEvent } from '../engine/events.js';
import { UnknownRunError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from './clock.js';
import type { StepReport } from './options.js';
import { scheduledEvent } from './outbox.js';
import { MAX_STORE_RETRY_DELAY_MS } from './store-retry.js';

/** What {@link RetryTimers} needs from its coordinator. */
export interface RetryTimerDeps {
  /** Timers. */
  clock: Clock;
  /** Logs. */
  logger: Logger;
  /** How long a lease end must still wait (grace after an outage); 0 for any other event. */
  graceLeft: (event: EngineEvent) => number;
  /** Steps the event. */
  submit: (runId: string, event: EngineEvent) => Promise<StepReport>;
}

/** The retry and lease-end timers of one coordinator. */
export class RetryTimers {
  private readonly timers = new Set<unknown>();
  private closed = false;

  constructor(private readonly deps: RetryTimerDeps) {}

  /** Sets a timer for `command` (a no-op once closed: the store holds it, and `resume` sets it again). */
  schedule(command: Extract<Command, { type: 'schedule' }>): void {
    if (this.closed) return;
    const { clock, logger } = this.deps;
    const handle = clock.setTimeout(
      () => {
        this.timers.delete(handle);
        const event = scheduledEvent(command);
        const graceLeft = this.deps.graceLeft(event);
        if (graceLeft > 0) return this.schedule({ ...command, dueAt: clock.now() + graceLeft });
        this.deps.submit(command.runId, event).catch((error: unknown) => {
          if (this.closed || error instanceof UnknownRunError) return;
          logger.warn({ error: (error as Error).message, runId: command.runId, node: command.node, retryInMs: MAX_STORE_RETRY_DELAY_MS }, 'retry not stepped; trying again');
          this.schedule({ ...command, dueAt: clock.now() + MAX_STORE_RETRY_DELAY_MS });
        });
      },
      Math.max(0, command.dueAt - clock.now()),
    );
    this.timers.add(handle);
  }

  /** Stops taking timers (from the start of the coordinator's close). */
  stop(): void {
    this.closed = true;
  }

  /** Cancels the timers set. */
  clear(): void {
    for (const handle of this.timers) this.deps.clock.clearTimeout(handle);
    this.timers.clear();
  }
}
