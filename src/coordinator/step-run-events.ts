/**
 * Stepping one run's events of a coordinator batch, in order, into one step
 * output: starts that exist already are compared (a start is idempotent by run
 * id), client events applied before (by event id) are not stepped again,
 * events the engine failed on twice are recorded as `TW_INTERNAL`, and
 * dispatches over `maxMessageBytes` are refused (client events) or fail their
 * node (signals). The coordinator commits what this returns.
 *
 * @packageDocumentation
 */
import { isDeepStrictEqual } from 'node:util';
import { ConflictError, TaskwireError } from '../errors.js';
import { emptyOutput, step, type LiveRun, type RunState, type StepOutput } from '../engine/index.js';
import { recordInternalError } from '../engine/internal-error.js';
import type { ConditionLookup } from '../model/condition.js';
import type { Logger } from '../observability/logger.js';
import { oversizedDispatches, tooLargeError, tooLargeEvent, type Oversized } from './message-size.js';
import { CLIENT_EVENTS, type Pending } from './pending.js';

/** How many client event ids a run remembers (see `RunState.eventIds`). */
const MAX_EVENT_IDS = 64;

/** What stepping a run's events needs from its coordinator. */
export interface StepRunDeps {
  logger: Logger;
  /** The conditions that conditional links name. */
  conditions: ConditionLookup;
  /** The largest encoded dispatch. */
  maxMessageBytes: number;
  /** Puts events back in the coordinator's queue, stepped again on a fresh load of the run. */
  requeue(...items: Pending[]): void;
  /** Drops a run from the coordinator's cache (its state may be half changed). */
  forget(runId: string): void;
}

/**
 * Steps `items` (events of run `live`, in order) into one output. Returns the
 * output and the events it answers (rejected ones are not among them), or
 * `undefined` when the run had to be dropped (an engine error, or an oversized
 * client event after others were stepped): its events are requeued then, to be
 * stepped again on a fresh load.
 */
export function stepRunEvents(live: LiveRun, items: readonly Pending[], now: number, deps: StepRunDeps): { out: StepOutput; applied: Pending[] } | undefined {
  const out = emptyOutput();
  const applied: Pending[] = [];
  let broken = false;
  for (const item of items) {
    if (broken) {
      deps.requeue(item); // stepped again once the run is reloaded
      continue;
    }
    if (item.create === undefined && item.pristine !== undefined) {
      // The run exists: this start committed before (an ambiguous commit), or the
      // caller starts a run id again. The same flow and inputs are the same run.
      if (sameStart(live.state, item.pristine)) applied.push(item);
      else item.reject(new ConflictError(item.runId, `run "${item.runId}" already exists, of flow "${live.state.flow}" (or with other inputs)`));
      continue;
    }
    if (item.settleOnly === true && item.written !== true) continue; // not written: its caller was told, nothing to do
    if (item.written === true || (item.eventId !== undefined && live.state.eventIds?.includes(item.eventId) === true)) {
      applied.push(item); // applied before, its commit ambiguous: its outcome is the run as it is
      continue;
    }
    if (item.internal !== undefined) {
      if (!recordInternalError(live, item.event, item.internal, now, out)) deps.logger.error({ runId: live.state.id, event: item.event.type }, 'engine error on an event that names no live execution; nothing to fail');
      applied.push(item);
      continue;
    }
    try {
      const recorded = out.history.length;
      const commanded = out.commands.length;
      step(live, item.event, now, out, deps.conditions);
      failOversized(live, item, out, commanded, now, deps);
      if (item.eventId !== undefined && out.history.length > recorded) rememberEvent(live.state, item.eventId);
      item.report = { status: live.state.status, graphVersion: live.state.graphVersion };
      applied.push(item);
    } catch (error) {
      if (error instanceof TaskwireError && CLIENT_EVENTS.has(item.event.type)) {
        item.reject(error);
        if (error.code !== 'TW_TOO_LARGE') continue; // an invalid change: the engine checks before changing anything
        // Stepped already: the run is reloaded, without this event.
        deps.forget(live.state.id);
        deps.requeue(...applied);
        broken = true;
        continue;
      }
      // Unexpected: the state may be half changed, so the run is reloaded and
      // the events stepped again on the fresh copy.
      deps.forget(live.state.id);
      deps.requeue(...applied);
      onEngineError(item, error, deps);
      broken = true;
    }
  }
  return broken ? undefined : { out, applied };
}

/**
 * The engine threw on an event (see the module doc of `engine/internal-error`):
 * the first time it is stepped again on a fresh load; the second time a client
 * gets the error, and any other event is recorded as a `TW_INTERNAL` failure
 * of what it names, its signal dead-lettered rather than acknowledged.
 */
function onEngineError(item: Pending, error: unknown, deps: StepRunDeps): void {
  const context = { runId: item.runId, event: item.event.type, error: error instanceof Error ? error.stack : String(error) };
  if (item.create !== undefined) {
    deps.logger.error(context, 'engine error on a new run; not created');
    item.reject(error);
  } else if (item.restepped !== true) {
    deps.logger.warn(context, 'engine error; stepping the event again on a fresh load');
    item.restepped = true;
    deps.requeue(item);
  } else if (CLIENT_EVENTS.has(item.event.type)) {
    deps.logger.error(context, 'engine error on a client event, again on a fresh load; the caller gets it');
    item.reject(error);
  } else {
    deps.logger.error(context, 'engine error, again on a fresh load: recording it (TW_INTERNAL) and dead-lettering its message');
    item.internal = error;
    deps.requeue(item);
  }
}

/**
 * Dispatches the step of `item` produced (from index `from`) that exceed
 * `maxMessageBytes` are never published: a client event throws
 * `TW_TOO_LARGE` (its caller gets it), any other event fails their
 * executions with that code, not retryable (which may produce more commands,
 * checked in turn).
 */
function failOversized(live: LiveRun, item: Pending, out: StepOutput, from: number, now: number, deps: StepRunDeps): void {
  const maxBytes = deps.maxMessageBytes;
  for (let start = from; ; ) {
    const found = oversizedDispatches(out.commands, start, maxBytes);
    if (found.length === 0) return;
    if (CLIENT_EVENTS.has(item.event.type)) throw tooLargeError(found[0] as Oversized, maxBytes);
    for (const over of [...found].reverse()) out.commands.splice(over.index, 1);
    start = out.commands.length;
    for (const over of found) {
      deps.logger.warn({ runId: live.state.id, node: over.command.node, bytes: over.bytes, maxBytes }, `${over.command.kind} dispatch over maxMessageBytes; it fails with TW_TOO_LARGE`);
      step(live, tooLargeEvent(over, maxBytes), now, out, deps.conditions);
    }
  }
}

/** Remembers a client event applied to a run (a new array: stores may share the old one). */
function rememberEvent(state: RunState, eventId: string): void {
  state.eventIds = [...(state.eventIds ?? []).slice(-(MAX_EVENT_IDS - 1)), eventId];
}

/** Whether a stored run is what a start would create: same flow, same inputs (a start is idempotent by run id). */
function sameStart(stored: RunState, start: RunState): boolean {
  return stored.flow === start.flow && isDeepStrictEqual(stored.inputs, start.inputs);
}
