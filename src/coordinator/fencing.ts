/**
 * Committing a batch's steps shard by shard, each shard's commit with its
 * fence (the leader epoch of the shard's lock: a deposed coordinator's commit
 * is refused), and what becomes of the steps that were not committed: a
 * conflict is stepped again on a fresh load, a failed or ambiguous commit
 * after a backoff (see `StoreRetry`), a refused one handed back.
 *
 * @packageDocumentation
 */
import { ConflictError } from '../errors.js';
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Logger } from '../observability/logger.js';
import { shardOf } from '../model/shard.js';
import type { Fence, StepCommit, Store } from '../store/port.js';
import type { Pending } from './pending.js';
import type { RunCache } from './run-cache.js';
import type { StoreRetry } from './store-retry.js';
import type { UncertainStep } from './uncertain.js';

const MAX_CONFLICT_RETRIES = 20;

/** A run's step in a batch: the run, the step's output, the events it applied and its commit. */
export interface Step {
  live: LiveRun;
  out: StepOutput;
  items: Pending[];
  commit: StepCommit;
}

/** The fences of the shards a coordinator owned when its batch began, by shard. */
export interface Fences {
  /** The store's number of shards. */
  shardCount: number;
  /** The owned shards' fences. */
  byShard: ReadonlyMap<number, Fence | undefined>;
}

/** What committing needs from the coordinator. */
export interface CommitDeps {
  store: Store;
  logger: Logger;
  cache: RunCache;
  storeRetry: StoreRetry;
  /** Steps events again, on a fresh load (the coordinator's queue). */
  requeue(...items: Pending[]): void;
  /** Gives an event up: its signal back to the broker, its caller the error. */
  fail(item: Pending, error: unknown): void;
  /** A shard's commit was refused: the shard is given up. */
  deposed(shard: number, fence: Fence): void;
  /** The store answered a commit of `steps` (some may have conflicted), in `durationMs`. */
  answered(steps: readonly Step[], durationMs: number): void;
}

/**
 * A signal of a shard this process does not own (given up, or not won yet)
 * is not stepped: it goes back to the broker, for the shard's owner. Returns
 * the other events (client events are stepped, unfenced, as a client's).
 */
export function standingBy(batch: Pending[], fences: Fences): Pending[] {
  return batch.filter((item) => {
    if (item.delivery === undefined || fences.byShard.get(shardOf(item.runId, fences.shardCount)) !== undefined) return true;
    item.delivery.requeue();
    return false;
  });
}

/**
 * Commits `steps`: one commit per shard, each with its shard's fence (runs of
 * shards this process does not own, or all runs without `fences`: one unfenced
 * commit). Returns the steps committed.
 */
export async function commitByShard(steps: Step[], fences: Fences | undefined, created: ReadonlyMap<string, LiveRun>, deps: CommitDeps): Promise<Step[]> {
  const groups = new Map<number, { fence: Fence | undefined; steps: Step[] }>();
  for (const step of steps) {
    const shard = fences === undefined ? -1 : shardOf(step.live.state.id, fences.shardCount);
    const fence = fences?.byShard.get(shard);
    const key = fence === undefined ? -1 : shard;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { fence, steps: [step] });
    else group.steps.push(step);
  }
  const results = await Promise.all([...groups].map(([shard, group]) => commitGroup(group.steps, shard, group.fence, created, deps)));
  return results.flat();
}

/**
 * Commits the steps of one shard (with its fence) or of runs this process
 * does not own (unfenced). Returns the steps committed; the others are
 * stepped again (a conflict, a failed or ambiguous commit) or handed back
 * (fenced).
 */
async function commitGroup(steps: Step[], shard: number, fence: Fence | undefined, created: ReadonlyMap<string, LiveRun>, deps: CommitDeps): Promise<Step[]> {
  let conflicts: Set<string>;
  const commitStart = Date.now();
  try {
    conflicts = new Set((await deps.store.commit(steps.map((s) => s.commit), fence)).conflicts);
    deps.answered(steps, Date.now() - commitStart);
  } catch (error) {
    for (const { live } of steps) deps.cache.delete(live.state.id);
    const items = steps.flatMap((s) => s.items);
    if ((error as { code?: unknown }).code === 'TW_FENCED' && fence !== undefined) {
      // Refused, not ambiguous: nothing of the batch was written.
      fenced(items, error, shard, fence, deps);
      return [];
    }
    // Failed, or ambiguous (the connection dropped during COMMIT): stepped again
    // on a fresh load, where event ids and run ids tell what was written.
    for (const { live, out, items: applied } of steps) {
      const uncertain: UncertainStep = { live, out, settled: false };
      for (const item of applied) {
        item.uncertain = uncertain;
        delete item.create;
      }
    }
    deps.storeRetry.later(items, error);
    return [];
  }
  const committed: Step[] = [];
  for (const step of steps) {
    const id = step.live.state.id;
    if (!conflicts.has(id)) {
      if (created.has(id)) deps.cache.set(id, step.live);
      committed.push(step);
      continue;
    }
    deps.cache.delete(id);
    for (const item of step.items) {
      if (item.create !== undefined) {
        delete item.create; // a run of that id exists: compared with this start on a fresh load
        deps.requeue(item);
      } else if (++item.conflicts > MAX_CONFLICT_RETRIES) deps.fail(item, new ConflictError(item.runId, `run "${item.runId}" keeps changing concurrently`));
      else deps.requeue(item);
    }
  }
  return committed;
}

/**
 * The store refused a shard's commit: another coordinator owns the shard now. Signals go
 * back to the broker (the new leader steps them); other events are stepped
 * again as a standby's (unfenced, like any client's), but a new run, already
 * stepped, is refused with the error.
 */
function fenced(items: Pending[], error: unknown, shard: number, fence: Fence, deps: CommitDeps): void {
  deps.logger.warn({ error: (error as Error).message, events: items.length, lock: fence.name, epoch: fence.epoch }, 'commit refused: another coordinator owns the shard');
  deps.deposed(shard, fence);
  for (const item of items) {
    if (item.delivery !== undefined) item.delivery.requeue();
    else if (item.create !== undefined) item.reject(error);
    else deps.requeue(item);
  }
}
