/**
 * Stepping the runs of a coordinator batch: each run's events stepped into one
 * output (see `step-run-events.ts`), the steps to commit collected, and the
 * events answered without a commit (duplicates, late signals, unknown runs)
 * set apart.
 *
 * @packageDocumentation
 */
import type { LiveRun, StepOutput } from '../engine/index.js';
import { UnknownRunError } from '../errors.js';
import type { StepCommit } from '../store/port.js';
import type { Step } from './fencing.js';
import type { Pending } from './pending.js';
import type { RunCache } from './run-cache.js';
import { stepRunEvents, type StepRunDeps } from './step-run-events.js';

/** What stepping a batch's runs needs from its coordinator. */
export interface StepBatchDeps {
  /** What stepping one run's events needs. */
  step: StepRunDeps;
  /** The coordinator's cache of runs. */
  cache: RunCache;
  /** The commit of a step (its rows and outbox items). */
  toCommit(live: LiveRun, expectedRev: number, out: StepOutput): StepCommit;
}

/** Adds an event to a batch's answers, with its report (the run as its step left it) if stepping did not set one. */
export function answer(answered: Pending[], item: Pending, live: LiveRun): void {
  item.report ??= { status: live.state.status, graphVersion: live.state.graphVersion };
  answered.push(item);
}

/**
 * Steps each run's events (`byRun`, the runs loaded in `runs`, those that came
 * from the cache in `cached`). Returns the steps to commit and the events
 * answered already, their reports taken now (the next batch may step their runs
 * while this one is handed on); events to step again on a fresh load go back to
 * the queue (`deps.step.requeue`).
 */
export function stepBatch(
  byRun: ReadonlyMap<string, Pending[]>,
  runs: ReadonlyMap<string, LiveRun>,
  cached: ReadonlySet<string>,
  now: number,
  deps: StepBatchDeps,
): { steps: Step[]; answered: Pending[] } {
  const steps: Step[] = [];
  const answered: Pending[] = [];
  for (const [runId, items] of byRun) {
    const live = runs.get(runId);
    if (live === undefined) {
      for (const item of items) {
        item.delivery?.ack(); // a signal for a run this store does not hold cannot succeed later
        item.reject(new UnknownRunError(runId));
      }
      continue;
    }
    const expectedRev = live.state.rev;
    const stepped = stepRunEvents(live, items, now, deps.step);
    if (stepped === undefined) continue;
    const { out, applied } = stepped;
    if (out.history.length === 0 && out.nodes.size === 0 && out.activations.size === 0) {
      if (cached.has(runId)) {
        // A cached copy may be stale (another coordinator or a client stepped the
        // run since): the signal may report an execution it does not know yet.
        // Acking it would lose it; only a copy fresh from the store can tell a
        // duplicate or late signal from a new one, so step it again on one.
        if (deps.cache.get(runId) === live) deps.cache.delete(runId);
        deps.step.requeue(...applied);
        continue;
      }
      for (const item of applied) answer(answered, item, live); // duplicates and late signals
      continue;
    }
    live.state.rev = expectedRev + 1;
    steps.push({ live, out, items: applied, commit: deps.toCommit(live, expectedRev, out) });
  }
  return { steps, answered };
}
