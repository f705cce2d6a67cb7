/**
 * Carrying out the commands of committed steps: all dispatches of a batch in one
 * publish (with their tracing spans), aborts broadcast, history announced, then
 * the published items deleted from the outbox, off the critical path.
 *
 * Every publish is bounded by a timeout (a confirm that never comes, under
 * broker flow control, must not hold the coordinator), and one message that
 * cannot be published (too large, say) holds back no other: a batch that fails
 * is published again message by message. What was not published stays in the
 * outbox (durable transports) for the poller.
 *
 * @packageDocumentation
 */
import type { Span } from '@opentelemetry/api';
import type { Command, GateCommand } from '../engine/events.js';
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import { traceDispatch } from '../observability/tracing.js';
import type { Store } from '../store/port.js';
import type { DispatchMessage, Transport } from '../transport/port.js';
import { outboxId } from './outbox.js';
import { publishDispatches, withTimeout } from './bounded-publish.js';
import type { Clock } from './clock.js';

/** What {@link publishSteps} needs. */
export interface PublishDeps {
  /** Where dispatches, aborts and announcements go. */
  transport: Transport;
  /** Where published items are deleted from the outbox (durable transports). */
  store: Store;
  /** For failed publishes and deletes. */
  logger: Logger;
  /** How long a publish may wait for its confirm. */
  timeoutMs: number;
  /** Times that wait (the coordinator's clock). */
  clock: Clock;
  /** Stamp dispatches with this time (for the queue-wait metric), when set; traced dispatches are stamped all the same. */
  sentAt: number | undefined;
  /** Timers for retries and lease ends (non-durable transports; durable ones use the outbox). */
  schedule(command: Extract<Command, { type: 'schedule' }>): void;
  /** Carries out flow-control gate commands (`GateKeeper.apply`). */
  gates(commands: readonly GateCommand[]): Promise<void>;
}

/**
 * Carries out committed steps' commands (see the module doc). Reads the runs
 * (ids, revisions, trace contexts) before its first await: the pipeline's next
 * batch may step them while this publish waits for its confirm.
 */
export async function publishSteps(steps: readonly { live: LiveRun; out: StepOutput }[], deps: PublishDeps): Promise<void> {
  const { transport } = deps;
  const dispatches: DispatchMessage[] = [];
  const dispatchIds: string[] = [];
  const spans: (Span | undefined)[] = [];
  const aborts: Extract<Command, { type: 'abort' }>[] = [];
  const abortIds: string[] = [];
  const gates: GateCommand[] = [];
  const gateIds: string[] = [];
  for (const { live, out } of steps) {
    const state = live.state;
    const commands = out.commands;
    for (let i = 0; i < commands.length; i++) {
      const command = commands[i] as Command;
      // Outbox ids only matter where there is an outbox (durable transports).
      const id = transport.durable ? outboxId(state.id, state.rev, i) : '';
      switch (command.type) {
        case 'dispatch': {
          // A copy only when stamped (the command itself is never changed by a transport).
          // A traced one is stamped too: its execution span says how long it waited queued.
          const sentAt = deps.sentAt ?? (state.traceparent === undefined ? undefined : deps.clock.now());
          const message: DispatchMessage = sentAt === undefined ? command : { ...command, sentAt };
          spans.push(traceDispatch(message, state.traceparent));
          dispatches.push(message);
          dispatchIds.push(id);
          break;
        }
        case 'schedule':
          if (!transport.durable) deps.schedule(command);
          break;
        case 'abort':
          aborts.push(command);
          abortIds.push(id);
          break;
        case 'gate':
          gates.push(command);
          gateIds.push(id);
          break;
        case 'finished':
          break;
      }
    }
  }
  if (dispatches.some((d) => d.priority !== undefined)) byPriority(dispatches, dispatchIds, spans);
  const done: string[] = [];
  // The dispatches first: a transport that writes at once puts them on the wire
  // before the best-effort announcements (a lone run's next hop waits for them).
  const published = Promise.all([
    publishDispatches(transport, dispatches, deps.timeoutMs, deps.clock),
    aborts.length === 0
      ? undefined
      : withTimeout(transport.abort(aborts), deps.timeoutMs, `broadcast of ${aborts.length} aborts`, deps.clock).then(
          () => void done.push(...abortIds),
          (error: unknown) => deps.logger.warn({ error: (error as Error).message }, 'abort not published; left in the outbox'),
        ),
  ]);
  const gated =
    gates.length === 0
      ? undefined
      : deps.gates(gates).then(
          () => void done.push(...gateIds),
          (error: unknown) => deps.logger.warn({ error: (error as Error).message }, 'gate commands not carried out; left in the outbox'),
        );
  for (const { out } of steps) void transport.announce(out.history);
  if (dispatches.length === 0 && aborts.length === 0 && gates.length === 0) return;
  const [sent] = await published;
  await gated;
  for (const span of spans) span?.end();
  for (const i of sent.published) done.push(dispatchIds[i] as string);
  // The outbox keeps what was not published; the poller publishes it again.
  for (const { message, error } of sent.failed) deps.logger.warn({ runId: message.runId, node: message.node, error: (error as Error).message }, 'dispatch not confirmed; left in the outbox');
  // Off the critical path: the next step need not wait for it (a delete that
  // fails only makes the poller publish those items again).
  if (transport.durable && done.length > 0) {
    deps.store.deleteOutbox(done).catch((error: unknown) => deps.logger.warn({ error: (error as Error).message }, 'outbox delete failed; the poller will publish those items again'));
  }
}

/**
 * Orders a batch's dispatches (and their outbox ids and spans, alike) by
 * priority, highest first, keeping the order within a priority: the
 * coordinator's part of priorities on a transport whose queues are FIFO
 * (AMQP quorum queues, docs/flow-control.md).
 */
function byPriority(dispatches: DispatchMessage[], ids: string[], spans: (Span | undefined)[]): void {
  const order = dispatches.map((_, i) => i).sort((a, b) => ((dispatches[b] as DispatchMessage).priority ?? 1) - ((dispatches[a] as DispatchMessage).priority ?? 1) || a - b);
  const [d, i, s] = [[...dispatches], [...ids], [...spans]];
  order.forEach((from, to) => {
    dispatches[to] = d[from] as DispatchMessage;
    ids[to] = i[from] as string;
    spans[to] = s[from];
  });
}
