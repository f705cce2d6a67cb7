/**
 * What a simulation may do: the fault kinds and workload scenarios, each with a
 * name that `--skip` and {@link AWAITING_FIXES} use.
 */

/** Faults injected while the world runs, and scenarios of the workload. Each can be skipped. */
export const KINDS = {
  // faults of the bus
  duplicate: 'a published dispatch or signal is delivered twice (a publisher confirm lost, then a retried publish)',
  redeliver: "a consumer's unacknowledged deliveries go back to the queue while its handlers still run (a channel reset)",
  // faults of the processes
  crash: 'coordinator and worker processes crash at any point (between a commit and its publish, mid-task) and restart on the same store',
  'graceful-restart': "a process's coordinator is closed (as on SIGTERM) while it steps a batch, then the process exits and restarts",
  // faults of the store
  'store-error': 'a store call fails before doing anything (a connection refused)',
  'ambiguous-commit': 'a commit is applied, then throws (the connection drops during COMMIT)',
  'store-outage': 'the store refuses every call for 1-8 s (the database restarting)',
  // faults of time and flow
  'clock-skew': "distributed: each process's clock runs up to 3 s ahead or behind; the store keeps the database's clock, by which outbox claims must be judged",
  'flow-control': 'distributed: 2% of dispatch and abort publishes are withheld (neither taken nor confirmed) for 2-400 s, then taken: publishes must time out, and an abort must stay in the outbox until the broker takes it',
  // workload scenarios
  'rollback-without-undo': "flows with onFailure 'rollback' whose tasks have no rollback function",
  'retry-fails-again': 'a failed node that has a rollback is retried (a live change) and fails again',
  'remove-readd': 'a node is removed and added again under the same id in one batch',
  'remove-listener': 'a persistent listener with live activations is removed, then the run is stopped',
  'listener-order': 'a persistent listener listens to another; it must be fed in the order of the notifications',
  'notification-burst': "40-80 notifications wait in a persistent listener's backlog (it also listens to a slow node); each commit writes bounded bytes per notification",
  'small-cache': "in half of the seeds every coordinator's run cache holds 1-3 runs for 0.2-3 s; no cache may exceed its bound",
  // checks
  'listener-result': "a persistent listener's result is that of its latest notification",
  'activation-retry-in-saga': "no apply starts once a saga has begun, not even a persistent listener's activation retry",
  'once-per-process': 'embedded: one process executes an attempt at most once (a restart re-executes only what a crash interrupted)',
  'rollback-after-cancel': "a cancelled run's rollbacks in flight still finish (after a crash too)",
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
  /** Store adapter under test (embedded mode always uses SQLite). */
  store: 'memory' | 'sqlite';
  /**
   * `distributed`: worker and coordinator processes on a durable bus, a client apart.
   * `embedded`: one process (worker, coordinator, client) with an in-process bus that
   * dies with it and `resume()` at restart, and a CLI changing runs while it is down.
   */
  mode: Mode;
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
