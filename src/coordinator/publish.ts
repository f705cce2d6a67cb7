/**
 * Carrying out the commands of committed steps: all dispatches of a batch in one
 * publish (with their tracing spans), aborts broadcast, history announced, then
 * the published items deleted from the outbox, off the critical path.
 *
 * @packageDocumentation
 */
import type { Span } from '@opentelemetry/api';
import type { Command } from '../engine/events.js';
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import { traceDispatch } from '../observability/tracing.js';
import type { Store } from '../store/port.js';
import type { DispatchMessage, Transport } from '../transport/port.js';
import { outboxId } from './outbox.js';

/** What {@link publishSteps} needs. */
export interface PublishDeps {
  /** Where dispatches, aborts and announcements go. */
  transport: Transport;
  /** Where published items are deleted from the outbox (durable transports). */
  store: Store;
  /** For failed publishes and deletes. */
  logger: Logger;
  /** Stamp dispatches with this time (for the dispatch latency metric), when set. */
  sentAt: number | undefined;
  /** Timers for retries and lease ends (non-durable transports; durable ones use the outbox). */
  schedule(command: Extract<Command, { type: 'schedule' }>): void;
  /** A run reached a settled status. */
  finished(command: Extract<Command, { type: 'finished' }>): void;
}

/** Carries out committed steps' commands (see the module doc). */
export async function publishSteps(steps: readonly { live: LiveRun; out: StepOutput }[], deps: PublishDeps): Promise<void> {
  const { transport } = deps;
  const dispatches: DispatchMessage[] = [];
  const spans: (Span | undefined)[] = [];
  const done: string[] = [];
  for (const { live, out } of steps) {
    const state = live.state;
    out.commands.forEach((command, i) => {
      const id = outboxId(state.id, state.rev, i);
      switch (command.type) {
        case 'dispatch': {
          const message: DispatchMessage = deps.sentAt === undefined ? { ...command } : { ...command, sentAt: deps.sentAt };
          spans.push(traceDispatch(message, state.traceparent));
          dispatches.push(message);
          done.push(id);
          break;
        }
        case 'schedule':
          if (!transport.durable) deps.schedule(command);
          break;
        case 'abort':
          done.push(id);
          void transport.abort([command]);
          break;
        case 'finished':
          deps.finished(command);
          break;
      }
    });
    void transport.announce(out.history);
  }
  if (done.length === 0) return;
  try {
    if (dispatches.length > 0) await transport.dispatch(dispatches);
    for (const span of spans) span?.end();
    // Off the critical path: the next step need not wait for it (a delete that
    // fails only makes the poller publish those items again).
    if (transport.durable) {
      deps.store.deleteOutbox(done).catch((error: unknown) => deps.logger.warn({ error: (error as Error).message }, 'outbox delete failed; the poller will publish those items again'));
    }
  } catch (error) {
    for (const span of spans) span?.end();
    // The outbox keeps them; the poller republishes.
    deps.logger.warn({ error: (error as Error).message, runs: steps.length }, 'dispatch not confirmed; left in the outbox');
  }
}
