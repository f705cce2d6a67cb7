/**
 * The coordinator's unit of work: an event for a run (a signal, a client's
 * start, notify or change, a timer), waiting in its queue to be stepped.
 *
 * @packageDocumentation
 */
import type { LiveRun, RunState } from '../engine/index.js';
import type { EngineEvent } from '../engine/events.js';
import type { Delivery } from '../transport/port.js';
import type { StepReport } from './options.js';
import type { UncertainStep } from './uncertain.js';

/** An event waiting to be stepped, with who waits for its outcome. */
export interface Pending {
  runId: string;
  event: EngineEvent;
  /**
   * The message it came in (a worker's signal, a client's request): acknowledged
   * once stepped, given back when this process does not step its shard.
   * Undefined for events of this process (its client's, its timers).
   */
  delivery?: Pick<Delivery<unknown>, 'ack' | 'requeue' | 'reject'>;
  resolve: (run: StepReport) => void;
  reject: (error: unknown) => void;
  conflicts: number;
  storeRetries: number;
  /** A client event's id: applied at most once to its run (see `RunState.eventIds`). */
  eventId?: string;
  /** A new run to create (its first step is `start`). */
  create?: LiveRun;
  /**
   * A start: the run as created, before its first step. When the outcome of its
   * commit is unknown (the commit failed, or conflicted with a run of the same
   * id), `create` is cleared and the stored run is compared with this one.
   */
  pristine?: RunState;
  /** The step this event was part of, when its commit failed: written or not, found out on the next load. */
  uncertain?: UncertainStep;
  /**
   * That step was written after all: the event is applied and not stepped again
   * (a `resume` stepped twice would dispatch its running attempts twice).
   */
  written?: boolean;
  /**
   * Its caller was given the store's error, but its ambiguous step was not found
   * out yet: it is not stepped again, only its step's commands carried out if it was written.
   */
  settleOnly?: boolean;
  /** The engine threw on this event once already: it was stepped again on a fresh load. */
  restepped?: boolean;
  /** The engine threw on this event on a fresh load too: record this error instead of stepping it. */
  internal?: unknown;
  /** The run right after this event was stepped (events stepped together each get their own). */
  report?: StepReport;
}

/** Events from clients: their callers get an engine error instead of a recorded failure. */
export const CLIENT_EVENTS: ReadonlySet<EngineEvent['type']> = new Set(['start', 'notify', 'change']);
