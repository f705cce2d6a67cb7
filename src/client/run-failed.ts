/**
 * The error `run.done()` rejects with when a run did not succeed.
 *
 * @packageDocumentation
 */
import type { RunStatus } from '../engine/index.js';
import { TaskwireError } from '../errors.js';
import type { Failure } from '../model/failure.js';
import type { NodeSnapshot, RunSnapshot } from './snapshot.js';

/**
 * A run that settled without succeeding. When a node failed (`code`
 * `TW_TASK_FAILED`), the error carries that node's original failure: its
 * `name`, `message` and `stack` are those of the error the task threw, and
 * `node`, `attempt` and `failure` say where. A cancelled run gives `TW_CANCELLED`,
 * a stalled one `TW_STALLED` (naming the nodes it waits on), without a node.
 */
export class RunFailedError extends TaskwireError {
  /** The run. */
  readonly runId: string;
  /** How the run ended (`failed`, `rolled_back`, `cancelled`, `stalled`, ...). */
  readonly status: RunStatus;
  /** The node whose failure ended the run (the first to fail), if any. */
  readonly node: string | undefined;
  /** The attempt of that node that failed for good. */
  readonly attempt: number | undefined;
  /** That node's failure as recorded (with its own `code` and `cause`). */
  readonly failure: Failure | undefined;
  /** The run as it settled. */
  readonly run: RunSnapshot;

  constructor(run: RunSnapshot) {
    const failed = firstFailed(run);
    const code = failed !== undefined ? 'TW_TASK_FAILED' : run.status === 'cancelled' ? 'TW_CANCELLED' : run.status === 'stalled' ? 'TW_STALLED' : 'TW_TASK_FAILED';
    super(code, failed?.error?.message ?? describe(run));
    this.runId = run.id;
    this.status = run.status;
    this.node = failed?.id;
    this.attempt = failed?.attempt;
    this.failure = failed?.error;
    this.run = run;
    if (failed?.error !== undefined) {
      this.name = failed.error.name;
      if (failed.error.stack !== undefined) this.stack = failed.error.stack;
    }
  }
}

/** The node that failed first (by finish time, then node order): the original failure. */
function firstFailed(run: RunSnapshot): NodeSnapshot | undefined {
  let first: NodeSnapshot | undefined;
  for (const node of Object.values(run.nodes)) {
    if (node.status !== 'failed' || node.error === undefined) continue;
    if (first === undefined || (node.finishedAt ?? Infinity) < (first.finishedAt ?? Infinity)) first = node;
  }
  return first;
}

function describe(run: RunSnapshot): string {
  if (run.status === 'cancelled') return `run "${run.id}" was cancelled`;
  const waiting = Object.values(run.nodes).filter((node) => node.waitingFor !== undefined).map((node) => `"${node.id}"`);
  const cycle = run.cycle === undefined ? '' : ` (cycle ${run.cycle.map((id) => `"${id}"`).join(' -> ')})`;
  return `run "${run.id}" ended ${run.status}${waiting.length > 0 ? `: waiting nodes ${waiting.join(', ')} can never start` : ''}${cycle}`;
}
