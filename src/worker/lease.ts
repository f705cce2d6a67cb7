/**
 * Long executions and the broker's consumer timeout (30 min by default on
 * RabbitMQ): an execution still running after `leaseAfterMs` sends a
 * heartbeat signal (the coordinator records a lease), is acknowledged early,
 * and renews its lease every third of `leaseMs` until it ends. A heartbeat
 * that cannot be published (the broker is busy or reconnecting) is tried
 * again after a backoff ({@link heartbeatRetryDelayMs}), the first one too:
 * the dispatch is acknowledged as soon as a lease is held. If the worker dies
 * meanwhile, the lease expires and the coordinator dispatches the node again
 * (at-least-once, as for a redelivery).
 *
 * @packageDocumentation
 */
import type { Clock } from '../coordinator/clock.js';
import type { Logger } from '../observability/logger.js';
import type { DispatchMessage, Transport } from '../transport/port.js';

/** See `WorkerOptions.leaseAfterMs`: well under RabbitMQ's default consumer timeout (30 minutes). */
export const DEFAULT_LEASE_AFTER_MS = 20 * 60_000;
/** See `WorkerOptions.leaseMs`. */
export const DEFAULT_LEASE_MS = 5 * 60_000;

/** What holds an execution past `leaseAfterMs` (see {@link holdLease}). */
export interface Lease {
  /** Acknowledged early: the lease holds the execution now. */
  readonly acked: boolean;
  /** Stops the heartbeats. */
  release(): void;
}

/** The lease of an execution with leases off (a non-durable transport): never acknowledged early. */
export const NO_LEASE: Lease = Object.freeze({ acked: false, release: (): void => undefined });

/** What holding a lease needs from the worker. */
export interface LeaseSettings {
  /** Where heartbeat signals go. */
  transport: Transport;
  /** The worker's id, in the heartbeats. */
  worker: string;
  /** Times the heartbeats. */
  clock: Clock;
  /** See `WorkerOptions.leaseMs`. */
  leaseMs?: number;
}

/**
 * Holds a lease on `message`'s execution once it has run `afterMs` (see the
 * module's description): `acked` is called when the first heartbeat is
 * published, to acknowledge the delivery early.
 */
export function holdLease(settings: LeaseSettings, afterMs: number, message: DispatchMessage, log: Logger, acked: () => void): Lease {
  const { transport, worker, clock } = settings;
  const state = { acked: false, release: () => undefined as void };
  const leaseMs = settings.leaseMs ?? DEFAULT_LEASE_MS;
  const renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
  const heartbeat = (): Promise<void> => {
    const base = { type: 'task.heartbeat' as const, runId: message.runId, node: message.node, attempt: message.attempt, worker, leaseMs };
    return transport.signal([message.activation === undefined ? base : { ...base, activation: message.activation }]);
  };
  let timer: unknown;
  let released = false;
  let failures = 0;
  const beat = (): void => {
    heartbeat().then(
      () => {
        failures = 0;
        if (released) return;
        if (!state.acked) {
          state.acked = true;
          acked();
          log.info({ leaseMs }, 'long execution: acknowledged early, holding a lease');
        }
        timer = clock.setTimeout(beat, renewEveryMs);
      },
      (error: unknown) => {
        if (released) return;
        const retryInMs = heartbeatRetryDelayMs(failures++, renewEveryMs);
        const what = state.acked ? 'lease renewal failed' : 'could not take a lease; the dispatch stays unacknowledged';
        log.warn({ error: (error as Error).message, retryInMs }, `${what}; trying again in ${retryInMs} ms`);
        timer = clock.setTimeout(beat, retryInMs);
      },
    );
  };
  timer = clock.setTimeout(beat, afterMs);
  state.release = () => {
    released = true;
    clock.clearTimeout(timer);
  };
  return state;
}

/**
 * The delay before heartbeat retry number `failures + 1`: 500 ms doubling,
 * never more than the renewal interval (so that a lease is not lost to backoff).
 */
export function heartbeatRetryDelayMs(failures: number, renewEveryMs: number): number {
  return Math.max(1, Math.min(renewEveryMs, 500 * 2 ** Math.min(failures, 10)));
}
