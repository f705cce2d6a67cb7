/**
 * Planning a commit batch before knowing the revisions the database holds.
 *
 * A batch is written by one statement (see `sql/commit.ts`), so the plan is
 * made before the stored revisions are known. For each run it holds one
 * candidate per distinct `expectedRev` among the run's commits: what the
 * batch writes if the run is stored at that revision (0: not stored yet),
 * following the same rules as the memory store (commits taken in order, a
 * commit applies when its `expectedRev` equals the run's revision so far),
 * folded so that each row is written once. A stored revision that is no
 * candidate applies no commit of the run. The statement writes the candidate
 * whose revision the run holds, at most one per run; the coordinator's batches
 * have one commit (one candidate) per run. Pure.
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../../engine/events.js';
import type { ActivationState, NodeState, RunHeader } from '../../engine/state.js';
import { shardOf } from '../../model/shard.js';
import type { BacklogRow, HeldRow, OutboxItem, StepCommit } from '../port.js';

/** What a batch writes for one run if the run is stored at revision {@link RunPlan.fromRev}. */
export interface RunPlan {
  /** Run id. */
  readonly id: string;
  /** The revision the run must hold for this plan to be written: the update's guard; 0 to insert the run. */
  readonly fromRev: number;
  /** The run's shard (written when the run is inserted). */
  readonly shard: number;
  /** The header after the last applied commit. */
  header: RunHeader;
  /**
   * Whether the `header` column is written: a new run, or an applied commit
   * changed it (`StepCommit.headerChanged`); otherwise only the columns of
   * the fields every step changes are.
   */
  headerChanged: boolean;
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
  /** Per node, the held rows deleted first: those with a seq up to this (all of a removed node's: {@link ALL_HELD}). */
  readonly released: Map<string, number>;
  /** Held rows to insert, after the deletes (those released later in the batch are left out). */
  held: HeldRow[];
  /** History entries to append. */
  readonly history: HistoryEntry[];
  /** Outbox items by id, in the order they were first added. */
  readonly outbox: Map<string, PlannedOutbox>;
  /** Indexes (in the batch) of the commits this plan applies. */
  readonly applied: Set<number>;
}

/** An outbox item of a {@link RunPlan}. */
export interface PlannedOutbox {
  /** The item. */
  readonly item: OutboxItem;
  /** The shard of the item's run. */
  readonly shard: number;
  /**
   * Where the item was first added in the batch (by commit, then by its index
   * in the commit): outbox rows of the whole batch are inserted in this order.
   */
  readonly position: number;
}

/** Compares strings in code unit order (as `COLLATE "C"` does). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The candidate plans of `commits`, sorted by run id (code unit order: the
 * order rows are locked and inserted in), then by `fromRev`; runs and outbox
 * items placed among `shards` shards.
 */
export function planCommit(commits: readonly StepCommit[], shards: number): RunPlan[] {
  const byRun = new Map<string, number[]>();
  const positions: number[] = [];
  let position = 0;
  commits.forEach((commit, i) => {
    const indexes = byRun.get(commit.run.id);
    if (indexes === undefined) byRun.set(commit.run.id, [i]);
    else indexes.push(i);
    positions.push(position);
    position += commit.outbox.length;
  });
  const plans: RunPlan[] = [];
  for (const id of [...byRun.keys()].sort(byCodeUnit)) {
    const indexes = byRun.get(id) ?? [];
    const revs = [...new Set(indexes.map((i) => commits[i]?.expectedRev ?? 0))].sort((a, b) => a - b);
    const placed = { id, shard: shardOf(id, shards), shards };
    for (const fromRev of revs) {
      const plan = planRun(commits, indexes, fromRev, positions, placed);
      if (plan !== undefined) plans.push(plan);
    }
  }
  return plans;
}

/** The `upTo` of a removed node's held rows: every seq (the column is an `integer`). */
const ALL_HELD = 2_147_483_647;

/** Adds `released` to the plan's deletes, leaving out the held rows of earlier commits that they delete. */
function releaseHeld(plan: RunPlan, released: readonly { node: string; upTo: number }[]): void {
  if (released.length === 0) return;
  for (const { node, upTo } of released) {
    plan.released.set(node, Math.max(plan.released.get(node) ?? upTo, upTo));
    plan.held = plan.held.filter((row) => row.node !== node || row.seq > upTo);
  }
}

/** The run `run.id` and its shard among `run.shards`. */
interface PlacedRun {
  readonly id: string;
  readonly shard: number;
  readonly shards: number;
}

/** The plan of `run` (its commits at `indexes`, in batch order) if the run is stored at `fromRev`. */
function planRun(commits: readonly StepCommit[], indexes: readonly number[], fromRev: number, positions: readonly number[], run: PlacedRun): RunPlan | undefined {
  let plan: RunPlan | undefined;
  let rev = fromRev;
  for (const i of indexes) {
    const commit = commits[i];
    if (commit === undefined || commit.expectedRev !== rev) continue;
    rev = commit.run.rev;
    plan ??= {
      id: run.id,
      fromRev,
      shard: run.shard,
      header: commit.run,
      headerChanged: fromRev === 0,
      nodes: new Map(),
      removed: new Set(),
      activations: new Map(),
      cleared: new Set(),
      backlog: [],
      released: new Map(),
      held: [],
      history: [],
      outbox: new Map(),
      applied: new Set(),
    };
    plan.applied.add(i);
    plan.header = commit.run;
    if (commit.headerChanged !== false) plan.headerChanged = true;
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
    releaseHeld(plan, [...commit.removed.map((node) => ({ node, upTo: ALL_HELD })), ...(commit.released ?? [])]);
    for (const row of commit.held ?? []) plan.held.push(row);
    for (const activation of commit.activations) plan.activations.set(`${activation.node}#${activation.seq}`, activation);
    plan.history.push(...commit.history);
    // A replaced item keeps the position of its first addition, as the memory store's outbox does.
    for (const [j, item] of commit.outbox.entries()) {
      const shard = item.runId === run.id ? run.shard : shardOf(item.runId, run.shards);
      plan.outbox.set(item.id, { item, shard, position: plan.outbox.get(item.id)?.position ?? (positions[i] ?? 0) + j });
    }
  }
  return plan;
}

/**
 * The runs of `commits` reported as conflicts, once `written` (run id → the
 * `fromRev` of the plan the statement wrote) is known: each commit that the
 * written plan does not apply, every commit of a run not written.
 */
export function conflictsOf(commits: readonly StepCommit[], plans: readonly RunPlan[], written: ReadonlyMap<string, number>): string[] {
  const applied = new Set<number>();
  for (const plan of plans) if (written.get(plan.id) === plan.fromRev) for (const i of plan.applied) applied.add(i);
  return commits.flatMap((commit, i) => (applied.has(i) ? [] : [commit.run.id]));
}
