/**
 * What a simulation may do: the fault kinds and workload scenarios, each with a
 * name that `--skip` and {@link AWAITING_FIXES} use.
 */

/** Faults injected while the world runs, and scenarios of the workload. Each can be skipped. */
export const KINDS = {
  // faults of the bus
  duplicate: 'a published dispatch or signal is delivered twice (a publisher confirm lost, then a retried publish)',
  redeliver: "a consumer's unacknowledged deliveries go back to the queue while its handlers still run (a channel reset)",
  'publish-error': 'distributed: a publish of a signal is refused (flow control, a channel closing): workers send results and heartbeats again',
  // faults of the processes
  crash: 'coordinator and worker processes crash at any point (between a commit and its publish, mid-task) and restart on the same store',
  'graceful-restart': 'a process closes as on SIGTERM (shutdown(): the worker drains, then the coordinator takes its results, finishes its batch and clears its timers), then exits and restarts',
  // faults of the store
  'store-error': 'a store call fails before doing anything (a connection refused)',
  'ambiguous-commit': 'a commit is applied, then throws (the connection drops during COMMIT)',
  'store-outage': 'the store refuses every call for 1-8 s (the database restarting)',
  // faults of the coordinator election (--store postgres)
  'lose-lock': "the active coordinator's lock session is ended by the server (pg_terminate_backend): a standby is elected",
  'half-open-lock': "the active coordinator's lock connection goes silent (half-open): its checks time out; the server drops the session 0-4 s later",
  'long-outage': 'the store refuses every call for 15-40 s, past the end of the faults (a database slow to come back): no retry due meanwhile is lost',
  // faults of time and flow
  'clock-skew': "distributed: each process's clock runs up to 3 s ahead or behind; the store keeps the database's clock, by which outbox claims must be judged",
  'flow-control': 'distributed: 2% of dispatch and abort publishes are withheld (neither taken nor confirmed) for 2-400 s, then taken: publishes must time out, and an abort must stay in the outbox until the broker takes it',
  // workload scenarios
  'rollback-without-undo': "flows with onFailure 'rollback' whose tasks have no rollback function",
  'retry-fails-again': 'a failed node that has a rollback is retried (a live change) and fails again',
  'remove-readd': 'a node is removed and added again under the same id in one batch',
  'remove-listener': 'a persistent listener with live activations is removed, then the run is stopped',
  'listener-order': 'a persistent listener listens to another; it must be fed in the order of the notifications',
  poison: 'distributed: a task crashes its worker process at every delivery (in 20% of seeds); it ends failed with TW_DELIVERY_LIMIT after its retries, and no innocent dispatch reaches the delivery limit',
  // workload scenarios of values too large to travel (test/sim/sizes.ts), beside the ordinary runs
  'oversized-input': 'a run whose bound input is over the maximum message size: its start rejects with TW_TOO_LARGE',
  'oversized-result': "a task's result over the maximum message size fails it at once (TW_TOO_LARGE); another's error that large is cut short",
  'oversized-inputs': "a node whose inputs grew over the maximum message size from its source's result fails with TW_TOO_LARGE, unexecuted",
  'oversized-rollback': "a rollback whose dispatch (inputs and result) is over the maximum message size fails with TW_TOO_LARGE, unexecuted",
  'oversized-notify': 'notifications whose payload is too large for one listening run (TW_PARTIAL) or for both (TW_TOO_LARGE)',
  'long-queue-name': 'a raw flow definition whose node has a 300-character queue name: its start is refused',
  'input-at-limit': "a run whose node's dispatch is within 40 bytes of the maximum message size: refused at its start (TW_TOO_LARGE) or run, never stranded",
  'long-task': 'some nodes run longer than a lease and than the consumer timeout: they hold a lease by heartbeats across crashes, restarts and store outages',
  'notification-burst': "40-80 notifications wait in a persistent listener's backlog (it also listens to a slow node); each commit writes bounded bytes per notification",
  'small-cache': "in half of the seeds every coordinator's run cache holds 1-3 runs for 0.2-3 s; no cache may exceed its bound",
  'private-stores': "distributed, memory and SQLite stores: a tenth of the seeds run again with every process on a store of its own (a broker beside a SQLite file or the memory store), each passing connect()'s deployment check",
  // checks
  'listener-result': "a persistent listener's result is that of its latest notification",
  'activation-retry-in-saga': "no apply starts once a saga has begun, not even a persistent listener's activation retry",
  'once-per-process': 'embedded: one process executes an attempt at most once (a restart re-executes only what a crash interrupted)',
  'rollback-after-cancel': "a cancelled run's rollbacks in flight still finish (after a crash too)",
  'one-leader': 'postgres, or several shards: per shard, a deposed coordinator commits nothing once its successor is elected (TW_FENCED); standbys step no signal and claim no outbox item of a shard whose lock they do not hold',
  'shard-owned': 'postgres, or several shards: every shard has a live owner (the holder of its lock, which knows it and consumes its signal queue) 10 s after the last process started or ended, once the faults stopped and the store is back',
  'lock-connections': "postgres: a lost lock gives its pool connection back (a process's pool never runs dry)",
  'partial-notify': 'a notify that reached only some runs says which (TW_PARTIAL); one rejected otherwise notified none',
  'consumer-timeout': "distributed: no dispatch stays unacknowledged past the broker's consumer timeout while its worker lives (a long task takes a lease first)",
  'lease-held': 'a lease never ends while its holder still executes it (not after a coordinator restart, nor after a store outage)',
  'drained-results': 'embedded: a task that finished before or while its process closed gracefully is recorded, not executed again after the restart',
  'no-timer-after-close': 'a process that closed gracefully has no timer left on its clock',
  'no-consumer-after-close': 'a process that closed gracefully consumes no queue any more (a subscription granted while it closed is cancelled)',
  'private-store-refused': 'private-stores: every process (the client too) is refused at start with TW_CONFIG; none runs on a store the others cannot see',
} as const;

/** A fault kind, scenario or check. */
export type Kind = keyof typeof KINDS;

/** A runtime layout the simulator builds (see {@link SimOptions.mode}). */
export type Mode = 'distributed' | 'embedded';

/** A known defect that a kind still finds, in the modes where it does. */
export interface AwaitingFix {
  /** The modes whose CI budget skips the kind. */
  modes: readonly Mode[];
  /** The defect, as the kind finds it. */
  finds: string;
}

/**
 * Kinds that find a known defect that is not fixed on this branch, with that
 * defect. The CI test skips them in the modes listed; remove an entry when its
 * fix is merged (the simulator then checks it in CI). `npm run sim` runs them
 * all unless told `--skip`.
 */
export const AWAITING_FIXES: Partial<Record<Kind, AwaitingFix>> = {};

/** The kinds CI skips in `mode` (see {@link AWAITING_FIXES}). */
export function awaitingIn(mode: Mode): Kind[] {
  return (Object.entries(AWAITING_FIXES) as [Kind, AwaitingFix][]).filter(([, fix]) => fix.modes.includes(mode)).map(([kind]) => kind);
}

/** Options of one simulated seed. */
export interface SimOptions {
  /** The seed: the same seed and options replay the same run. */
  seed: number;
  /** Kinds not to inject or check. */
  skip: ReadonlySet<Kind>;
  /**
   * Store adapter under test (embedded mode always uses SQLite). `postgres`:
   * the local PostgreSQL, a schema per seed, and a real election.
   */
  store: 'memory' | 'sqlite' | 'postgres';
  /**
   * `distributed`: worker and coordinator processes on a durable bus, a client apart.
   * `embedded`: one process (worker, coordinator, client) with an in-process bus that
   * dies with it and `resume()` at restart, and a CLI changing runs while it is down.
   */
  mode: Mode;
  /** The shard count, instead of the seed's draw (`shards.ts`; embedded mode has one). */
  shards?: number;
}

/** Parses a comma-separated list of kinds; throws on an unknown one. */
export function parseKinds(list: string): Kind[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!(s in KINDS)) throw new Error(`unknown kind "${s}"; known: ${Object.keys(KINDS).join(', ')}`);
      return s as Kind;
    });
}
