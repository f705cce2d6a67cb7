/**
 * The coordinator's options and what its steps report.
 *
 * @packageDocumentation
 */
import type { RunStatus } from '../engine/state.js';
import type { ConditionLookup } from '../model/condition.js';
import type { Logger } from '../observability/logger.js';
import type { TaskwireMetrics } from '../observability/metrics.js';
import type { Store } from '../store/port.js';
import type { Transport } from '../transport/port.js';
import type { Clock } from './clock.js';
import type { RetentionOptions } from './retention.js';

/** Options of {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Where runs live. */
  store: Store;
  /** Where commands go. */
  transport: Transport;
  /**
   * The conditions that conditional links name, evaluated when a listener's
   * sources have notified (a registry: conditions registered later are found).
   * @default none (a conditional link's listener fails with `TW_CONDITION`)
   */
  conditions?: ConditionLookup;
  /** Time and timers. @default the system clock */
  clock?: Clock;
  /** Structured logger. */
  logger?: Logger;
  /** Metrics to record into. */
  metrics?: TaskwireMetrics;
  /**
   * Durable transports: an outbox item not deleted this long after its step is republished.
   * @default 5000
   */
  republishAfterMs?: number;
  /**
   * Carry out the commands of the steps this coordinator commits. Off, they stay
   * in the outbox for the coordinator that owns the runs (embedded: the process
   * executing them) to carry out.
   * @default true
   */
  carryOut?: boolean;
  /**
   * Names the locks of the shards (`coordinator:<key>:shard:<s>`, or
   * `coordinator:<key>` with one shard): coordinators of one store and one bus share it.
   * @default "default"
   */
  leaderKey?: string;
  /**
   * How often the coordinator renews its membership in the store and
   * reconsiders its shards (gives up those a new member should own, tries the
   * locks of those it should own); a membership not renewed for three intervals
   * ends, and its shards move to the others.
   * @default 1000
   */
  electionIntervalMs?: number;
  /**
   * This process's id among the coordinators sharing the shards.
   * @default `<host>:<pid>:<random>`
   */
  member?: string;
  /**
   * Automatic retention: once started, the coordinator deletes finished runs
   * older than `olderThanMs` (with everything they own) every `intervalMs`
   * (a minute), in small batches, in the background. With several
   * coordinators on one PostgreSQL store only the owner of shard 0 sweeps.
   * Left out: runs are kept (prune them with `taskwire prune`).
   */
  retention?: RetentionOptions;
  /**
   * Durable transports: how often the outbox is polled for due retries and leftovers.
   * @default 500
   */
  pollIntervalMs?: number;
  /**
   * Whether the outbox poller carries out the due items of a run this
   * coordinator did not create (work left by a client change, a retry of a run
   * of another process). An item it leaves stays in the outbox, due again once
   * its claim ends, for a process that has the run's tasks (embedded: `taskwire
   * run` carries out only its own run; `taskwire serve` not those of runs whose
   * tasks it lacks).
   * @default every run
   */
  carries?: (runId: string) => boolean;
  /**
   * Given, the coordinator carries out every run it creates whatever `carries`
   * says, and calls this, awaited before the run is saved (see
   * {@link Coordinator.ownRuns}). Embedded, a process that does not resume runs
   * beats the worker's heartbeat row then, which lists those runs (`WorkerBeat.runs`).
   */
  ownRun?: (runId: string) => Promise<void>;
  /**
   * Most runs kept in memory between events (least recently used evicted first).
   * A cached run saves a store load per event; an evicted one is loaded again.
   * @default 5000
   */
  cacheSize?: number;
  /**
   * A cached run unused this long is forgotten (loaded again at its next event).
   * @default 300000 (5 minutes)
   */
  cacheTtlMs?: number;
  /**
   * Largest encoded message (a dispatch) a step may produce, in bytes: the same
   * limit as the transport's (`AmqpOptions.maxMessageBytes`), enforced in every
   * mode. A client event that would exceed it rejects with `TW_TOO_LARGE`; a node
   * whose inputs exceed it fails with that code.
   * @default 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * How long a publish waits for the broker's confirm before it counts as failed
   * (what it published stays in the outbox, and the poller publishes it again).
   * @default 10000
   */
  publishTimeoutMs?: number;
  /**
   * Grace period after an outage: for this long after the coordinator started,
   * was elected, or its store came back (to a commit or to an outbox poll), the end of a lease is not acted on
   * (the heartbeats of the outage are heard first), so a long task that still
   * runs is not dispatched again. See `docs/distributed.md`.
   * @default 30000
   */
  leaseGraceMs?: number;
  /**
   * Time between sweeps of the flow-control gates (task limits and rates,
   * docs/flow-control.md): a sweep admits waiters after releases made by other
   * coordinators and gives back permits whose release was lost in a crash; 0: none.
   * @default 2000 where coordinators share the store with elections (PostgreSQL), else 0
   */
  gateSweepMs?: number;
}

/** What `Coordinator.submit` resolves with: the run after the step. */
export interface StepReport {
  /** Run status after the step. */
  status: RunStatus;
  /** Graph version after the step. */
  graphVersion: number;
}
