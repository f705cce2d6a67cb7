/**
 * The outbox, from the coordinator's side: what a committed step leaves in it,
 * and carrying out what a poller claimed (leftovers of crashed publishers,
 * retries and lease ends that are due, work left by clients that execute
 * nothing).
 *
 * @packageDocumentation
 */
import type { Command, DispatchCommand, EngineEvent, ExecutionRef } from '../engine/events.js';
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import type { OutboxItem, Store } from '../store/port.js';
import type { Transport } from '../transport/port.js';

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
  const ref: ExecutionRef = { node: command.node, attempt: command.attempt };
  if (command.activation !== undefined) ref.activation = command.activation;
  return { type: command.lease === true ? 'lease.due' : 'retry.due', ...ref };
}

/** What carrying out claimed items needs. */
export interface OutboxDeps {
  /** Where the items are deleted once done. */
  store: Store;
  /** Where dispatches and aborts go. */
  transport: Transport;
  /** For the republishing log line. */
  logger: Logger;
  /** Steps an event (resolves once committed). */
  submit(runId: string, event: EngineEvent): Promise<unknown>;
}

/**
 * Carries out claimed items and deletes those done. A schedule is deleted only
 * once its event is stepped: if the store fails, the claim ends and it is due again.
 */
export async function carryOutClaimed(items: readonly OutboxItem[], deps: OutboxDeps): Promise<void> {
  const dispatches: DispatchCommand[] = [];
  const done: string[] = [];
  const steps: Promise<void>[] = [];
  for (const item of items) {
    const command = item.command;
    if (command.type === 'dispatch') {
      dispatches.push(command);
      done.push(item.id);
    } else if (command.type === 'abort') {
      await deps.transport.abort([command]);
      done.push(item.id);
    } else if (command.type === 'schedule') {
      steps.push(deps.submit(command.runId, scheduledEvent(command)).then(() => void done.push(item.id), () => undefined));
    }
  }
  if (dispatches.length > 0) {
    deps.logger.info({ count: dispatches.length }, 'publishing dispatches left in the outbox');
    await deps.transport.dispatch(dispatches);
  }
  await Promise.all(steps);
  await deps.store.deleteOutbox(done);
}
