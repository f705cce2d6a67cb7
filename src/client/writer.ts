/**
 * Who steps a client's events (start, notify, change). Embedded, the client's
 * own coordinator, the only one of its runs ({@link localWriter}); distributed,
 * the coordinator of each run's shard, asked over the bus
 * (`RemoteWriter`, one writer per run: docs/distributed.md).
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { StepReport } from '../coordinator/options.js';
import { liveRun } from '../engine/index.js';
import { runOfStart } from '../coordinator/requests.js';
import type { Change } from '../engine/events.js';
import type { RunRequest } from '../transport/port.js';

/** A start as a client asks for it: the run's id, flow, inputs and trace context. */
export type StartRequest = Omit<Extract<RunRequest, { type: 'start' }>, 'type'>;

/** Steps a client's events and answers as the coordinator does. */
export interface RunWriter {
  /** Creates and starts a run; resolves once it is committed (a start of an existing id with the same flow and inputs too). */
  start(request: StartRequest): Promise<void>;
  /** Notifies `runIds` once per `eventId`; one settled outcome per run, in order. */
  notify(runIds: readonly string[], event: string, payload: JsonObject, eventId: string): Promise<PromiseSettledResult<StepReport>[]>;
  /** Applies `changes` as one to run `runId`, once per `eventId`. */
  change(runId: string, changes: Change[], actor: string, eventId: string): Promise<StepReport>;
}

/** The client's own coordinator steps its events (embedded, and the simulator's clients). */
export function localWriter(coordinator: Coordinator): RunWriter {
  return {
    start: (request) => coordinator.create(liveRun(runOfStart(request, coordinator.now()))),
    notify: (runIds, event, payload, eventId) => Promise.allSettled(runIds.map((runId) => coordinator.submit(runId, { type: 'notify', event, payload }, eventId))),
    change: (runId, changes, actor, eventId) => {
      // Another process (the CLI, a worker's coordinator) may have changed the run since it was cached.
      coordinator.invalidate(runId);
      return coordinator.submit(runId, { type: 'change', changes, actor }, eventId);
    },
  };
}
