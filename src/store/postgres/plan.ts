/**
 * Planning a commit batch: given the revisions the database holds, which
 * commits apply and what each run's rows become. Pure: the same rules as the
 * memory store, folded so that each row is written once per batch.
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../../engine/events.js';
import type { ActivationState, NodeState, RunHeader } from '../../engine/state.js';
import type { BacklogRow, OutboxItem, StepCommit } from '../port.js';

/** What a batch writes for one run. */
export interface RunPlan {
  /** Run id. */
  readonly id: string;
  /** Whether the run row exists (update it) or not (insert it). */
  readonly exists: boolean;
  /** The revision the row holds now (0 for a new run): the update's guard. */
  readonly fromRev: number;
  /** The header after the last applied commit. */
  header: RunHeader;
  /** Nodes to insert or replace, by id, in the order the memory store would hold them. */
  readonly nodes: Map<string, NodeState>;
  /** Node ids to delete first (a node removed then added again is deleted, then inserted at the end). */
  readonly removed: Set<string>;
  /** Activations to insert or replace, by `node#seq`. */
  readonly activations: Map<string, ActivationState>;
  /** Nodes whose stored backlog is deleted first (drained or removed). */
  readonly cleared: Set<string>;
  /** Backlog rows to append, after the deletes (those appended before a node's last clear in the batch are left out). */
  backlog: BacklogRow[];
  /** History entries to append. */
  readonly history: HistoryEntry[];
}

/** An outbox item and the run whose commit added it. */
export interface PlannedOutbox {
  /** The committing run. */
  readonly runId: string;
  /** The item. */
  readonly item: OutboxItem;
}

/** The plan of a batch. */
export interface CommitPlan {
  /** Runs with at least one applied commit, sorted by id. */
  readonly runs: RunPlan[];
  /** Outbox items by id, in the order they were first added. */
  readonly outbox: Map<string, PlannedOutbox>;
  /** For each commit (same index), whether its revision was stale. */
  readonly conflicted: boolean[];
}

/** Run ids of a batch, distinct and sorted (code unit order): the order rows are locked and inserted in. */
export function batchRunIds(commits: readonly StepCommit[]): string[] {
  return [...new Set(commits.map((commit) => commit.run.id))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Plans `commits` against `revs` (the revision of each existing run of the
 * batch). Commits are taken in order, as the memory store does: a commit applies
 * when its `expectedRev` equals the run's revision so far (the stored one, or
 * that of the previous applied commit of the batch).
 */
export function planCommit(commits: readonly StepCommit[], revs: ReadonlyMap<string, number>): CommitPlan {
  const plans = new Map<string, RunPlan>();
  const current = new Map<string, number>();
  const outbox = new Map<string, PlannedOutbox>();
  const conflicted = commits.map((commit) => {
    const id = commit.run.id;
    const rev = current.get(id) ?? revs.get(id) ?? 0;
    if (commit.expectedRev !== rev) return true;
    current.set(id, commit.run.rev);
    let plan = plans.get(id);
    if (plan === undefined) {
      plan = {
        id,
        exists: revs.has(id),
        fromRev: rev,
        header: commit.run,
        nodes: new Map(),
        removed: new Set(),
        activations: new Map(),
        cleared: new Set(),
        backlog: [],
        history: [],
      };
      plans.set(id, plan);
    }
    plan.header = commit.run;
    // Deletes first: a step that removes a node and adds it again lists it in both.
    for (const removed of commit.removed) {
      plan.nodes.delete(removed);
      plan.removed.add(removed);
    }
    for (const node of commit.nodes) plan.nodes.set(node.def.id, node);
    const cleared = new Set([...commit.removed, ...(commit.drained ?? [])]);
    if (cleared.size > 0) {
      for (const node of cleared) plan.cleared.add(node);
      plan.backlog = plan.backlog.filter((row) => !cleared.has(row.node));
    }
    for (const row of commit.backlog ?? []) plan.backlog.push(row);
    for (const activation of commit.activations) plan.activations.set(`${activation.node}#${activation.seq}`, activation);
    plan.history.push(...commit.history);
    // Map.set keeps the first position of a key, as the memory store's outbox does.
    for (const item of commit.outbox) outbox.set(item.id, { runId: id, item });
    return false;
  });
  const runs = [...plans.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { runs, outbox, conflicted };
}
