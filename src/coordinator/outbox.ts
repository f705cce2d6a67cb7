/**
 * The outbox, from the coordinator's side: what a committed step leaves in it,
 * and carrying out what a poller claimed (leftovers of crashed publishers,
 * retries and lease ends that are due, work left by clients that execute
 * nothing).
 *
 * @packageDocumentation
 */
import { UnknownRunError } from '../errors.js';
import type { Command, DispatchCommand, EngineEvent, ExecutionRef, GateCommand } from '../engine/events.js';
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import type { OutboxItem, Store } from '../store/port.js';
import type { Transport } from '../transport/port.js';
import { publishDispatches, withTimeout } from './bounded-publish.js';
import type { Clock } from './clock.js';
import type { OutboxBackoff } from './outbox-backoff.js';

/** The id of a step's command in the outbox: `<runId>:<rev>:<index>`. */
export function outboxId(runId: string, rev: number, index: number): string {
  return `${runId}:${rev}:${index}`;
}

/** A committed step's commands as outbox items; schedules are due when they fire, the rest at `dueAt`. */
export function outboxItems(live: LiveRun, out: StepOutput, dueAt: number): OutboxItem[] {
  const state = live.state;
  const items: OutboxItem[] = [];
  out.commands.forEach((command, i) => {
    if (command.type === 'finished') return;
    items.push({ id: outboxId(state.id, state.rev, i), runId: state.id, dueAt: command.type === 'schedule' ? command.dueAt : dueAt, command });
  });
  return items;
}

/** The event a due schedule command stands for: a retry, or the end of a lease. */
export function scheduledEvent(command: Extract<Command, { type: 'schedule' }>): EngineEvent {
  if (command.start === true) return { type: 'start.due' };
  const ref: ExecutionRef = { node: command.node, attempt: command.attempt };
  if (command.activation !== undefined) ref.activation = command.activation;
  return command.lease === true ? { type: 'lease.due', leaseUntil: command.dueAt, ...ref } : { type: 'retry.due', ...ref };
}

/** What carrying out claimed items needs. */
export interface OutboxDeps {
  /** Where the items are deleted once done. */
  store: Store;
  /** Where dispatches and aborts go. */
  transport: Transport;
  /** For the republishing log line. */
  logger: Logger;
  /** How long a publish may wait for its confirm. */
  timeoutMs: number;
  /** Times that wait (the coordinator's clock). */
  clock: Clock;
  /** Which failing items to leave for later. */
  backoff: OutboxBackoff;
  /** The poll's time (epoch ms). */
  now: number;
  /** Steps an event (resolves once committed). */
  submit(runId: string, event: EngineEvent): Promise<unknown>;
  /** Carries out flow-control gate commands (`GateKeeper.apply`). */
  gates(commands: readonly GateCommand[]): Promise<void>;
}

/**
 * Carries out claimed items and deletes those done. An item that fails (a
 * publish not confirmed, a schedule whose step failed) is logged and stays,
 * tried again after a backoff ({@link OutboxBackoff}); it holds back no other item.
 */
export async function carryOutClaimed(claimed: readonly OutboxItem[], deps: OutboxDeps): Promise<void> {
  const items = claimed.filter((item) => deps.backoff.ready(item.id, deps.now));
  const dispatches: DispatchCommand[] = [];
  const dispatchIds: string[] = [];
  const aborts: Extract<Command, { type: 'abort' }>[] = [];
  const abortIds: string[] = [];
  const gates: GateCommand[] = [];
  const gateIds: string[] = [];
  const done: string[] = [];
  const steps: Promise<void>[] = [];
  const failed = (item: { id: string; runId: string }, error: unknown): void => {
    const retryInMs = deps.backoff.failed(item.id, deps.now);
    deps.logger.warn({ id: item.id, runId: item.runId, error: (error as Error).message, retryInMs }, 'outbox item failed; tried again after a backoff');
  };
  for (const item of items) {
    const command = item.command;
    if (command.type === 'dispatch') {
      dispatches.push(command);
      dispatchIds.push(item.id);
    } else if (command.type === 'abort') {
      aborts.push(command);
      abortIds.push(item.id);
    } else if (command.type === 'gate') {
      gates.push(command);
      gateIds.push(item.id);
    } else if (command.type === 'schedule') {
      steps.push(
        deps.submit(command.runId, scheduledEvent(command)).then(
          () => void done.push(item.id),
          (error: unknown) => {
            if (!(error instanceof UnknownRunError)) return failed(item, error);
            deps.logger.warn({ id: item.id, runId: item.runId }, 'outbox item of a run that no longer exists; dropped');
            done.push(item.id);
          },
        ),
      );
    }
  }
  if (aborts.length > 0) {
    steps.push(
      withTimeout(deps.transport.abort(aborts), deps.timeoutMs, `broadcast of ${aborts.length} aborts`, deps.clock).then(
        () => void done.push(...abortIds),
        (error: unknown) => {
          for (const [i, id] of abortIds.entries()) failed({ id, runId: (aborts[i] as { runId: string }).runId }, error);
        },
      ),
    );
  }
  if (gates.length > 0) {
    steps.push(
      deps.gates(gates).then(
        () => void done.push(...gateIds),
        (error: unknown) => {
          for (const [i, id] of gateIds.entries()) failed({ id, runId: (gates[i] as GateCommand).runId }, error);
        },
      ),
    );
  }
  if (dispatches.length > 0) {
    deps.logger.info({ count: dispatches.length }, 'publishing dispatches left in the outbox');
    const sent = await publishDispatches(deps.transport, dispatches, deps.timeoutMs, deps.clock);
    for (const i of sent.published) done.push(dispatchIds[i] as string);
    for (const { message, error } of sent.failed) failed({ id: dispatchIds[dispatches.indexOf(message)] as string, runId: message.runId }, error);
  }
  await Promise.all(steps);
  for (const id of done) deps.backoff.done(id);
  await deps.store.deleteOutbox(done);
}
