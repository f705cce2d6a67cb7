/**
 * The coordinator's intake of client requests (one writer per run): a start,
 * notify (many notifications of a client's turn) or change sent by a client to
 * the coordinator of the runs' shard becomes one event per run (a run's events
 * of a batch are stepped in one step), stepped with the shard's signals, fenced by its
 * leader epoch, and answered once every run has its outcome. A request with
 * any event given back (the shard changed hands, the coordinator closed) goes
 * back to the broker whole, for the shard's owner: events already applied are
 * recognised there by their event id (a start by its run id) and answer the run
 * as it is.
 *
 * @packageDocumentation
 */
import { copyRun, createRun, liveRun, type RunState } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import type { RequestDelivery, RunOutcome, RunRequest } from '../transport/port.js';
import { errorToWire } from '../transport/wire-error.js';
import type { StepReport } from './options.js';
import type { Pending } from './pending.js';

/** A run's event of a request, before it is given its outcome callbacks. */
type RunEvent = Pick<Pending, 'runId' | 'event'> & Partial<Pick<Pending, 'eventId' | 'create' | 'pristine'>>;

/** The run a start request creates (not started yet: its `start` event does). */
export function runOfStart(request: Omit<Extract<RunRequest, { type: 'start' }>, 'type'>, now: number): RunState {
  const { runId: id, definition, inputs, validate, traceparent, startAt } = request;
  return createRun(definition, { id, inputs, validate, now, ...(traceparent === undefined ? {} : { traceparent }), ...(startAt === undefined ? {} : { startAt }) });
}

/** The events of a request, one per run; throws what the request cannot be turned into (a flow the engine refuses). */
function eventsOf(delivery: RequestDelivery, now: number): RunEvent[] {
  const request = delivery.body;
  switch (request.type) {
    case 'start': {
      const state = runOfStart(request, now);
      return [{ runId: state.id, event: { type: 'start' }, create: liveRun(state), pristine: copyRun(state) }];
    }
    case 'notify':
      return request.notifications.flatMap(({ runIds, event, payload, eventId }) => runIds.map((runId): RunEvent => ({ runId, event: { type: 'notify', event, payload }, eventId })));
    case 'change': {
      const { runId, changes, actor, eventId } = request;
      return [{ runId, event: { type: 'change', changes, actor }, eventId }];
    }
  }
}

/**
 * The events of a request to step, each answering into the request's reply.
 * `now` stamps a new run. The delivery is acknowledged after the reply is
 * sent, or given back (see the module doc).
 */
export function requestEvents(delivery: RequestDelivery, now: number, logger: Logger): Pending[] {
  let events: RunEvent[];
  try {
    events = eventsOf(delivery, now);
  } catch (error) {
    const runIds = delivery.body.type === 'notify' ? delivery.body.notifications.flatMap((n) => n.runIds) : [delivery.body.runId];
    answer(delivery, runIds.map((runId) => ({ runId, error: errorToWire(error) })), logger);
    return [];
  }
  const outcomes: RunOutcome[] = [];
  const done = events.map(() => false);
  let left = events.length;
  let givenBack = false;
  /** Records a run's outcome (undefined: given back); the last one answers or gives the request back. */
  const settle = (index: number, outcome: RunOutcome | undefined): void => {
    if (done[index] === true) return;
    done[index] = true;
    if (outcome === undefined) givenBack = true;
    else outcomes[index] = outcome;
    if (--left > 0) return;
    if (givenBack) delivery.requeue();
    else answer(delivery, outcomes, logger);
  };
  return events.map((event, index) => ({
    ...event,
    conflicts: 0,
    storeRetries: 0,
    resolve: (report: StepReport) => settle(index, { runId: event.runId, ...report }),
    reject: (error: unknown) => settle(index, { runId: event.runId, error: errorToWire(error) }),
    // Acknowledged (or dead-lettered: an engine error recorded) once every run is answered; given back whole.
    delivery: { ack: () => undefined, reject: () => undefined, requeue: () => settle(index, undefined) },
  }));
}

/** Replies, then acknowledges the request (a reply lost on the way: its client times out and asks again). */
function answer(delivery: RequestDelivery, outcomes: RunOutcome[], logger: Logger): void {
  delivery.reply({ outcomes }).then(
    () => delivery.ack(),
    (error: unknown) => {
      logger.warn({ error: (error as Error).message }, 'request answered, but its reply could not be sent');
      delivery.ack();
    },
  );
}
