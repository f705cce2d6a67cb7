/**
 * What a store commits for one step of the engine (see `Store.commit`).
 *
 * Whether a step changed its run's header beyond the fields that every step
 * changes ({@link COLUMN_FIELDS}: the SQL stores keep those in columns of
 * their own) is not in the engine's `StepOutput`. It is told here by comparing
 * the header with the one the previous commit built from the same run object
 * held: the engine replaces the header's objects (inputs, event ids, retired
 * attempts) rather than changing them, so comparing by identity suffices. A
 * run object whose previous commit produced another revision than the one a
 * step is computed from (a fresh load, a new run) counts as changed.
 *
 * That comparison is sound because the commit is guarded by its revision: a
 * header marked unchanged is written only if the run is stored at
 * `expectedRev`, the revision that the previous commit built from this very
 * object produced, and that commit wrote this header's stable fields. (A
 * coordinator never steps a run object again after its commit failed or
 * conflicted: it loads the run afresh, a new object.)
 *
 * Which nodes' definitions and sources a step changed (`StepCommit.defs`) is
 * told the same way, node by node: the engine replaces a node's `def` and
 * `sources` when it changes them, so a node whose `def` and `sources` are the
 * objects the previous commit of the same run object held (in an unbroken
 * chain of its commits) has them stored as they are.
 *
 * @packageDocumentation
 */
import { runHeader, type NodeState, type RunHeader, type RunState } from '../engine/state.js';
import type { LinkDefinition, NodeDefinition } from '../model/definition.js';
import type { StepOutput } from '../engine/step-context.js';
import { backlogRows, heldRows } from './backlog.js';
import type { OutboxItem, StepCommit } from './port.js';

/**
 * The header fields that every step may change and that the SQL stores keep
 * in columns of their own, rewritten by every commit (see
 * `StepCommit.headerChanged`).
 */
type ColumnField = Extract<keyof RunHeader, 'rev' | 'status' | 'graphVersion' | 'seq' | 'updatedAt'>;

/**
 * The other header fields: a compile error when {@link RunHeader} has one not
 * listed (nor a {@link ColumnField}). Exported for the test that checks
 * `sameStable` compares each one.
 */
export const STABLE_FIELDS = {
  id: true,
  flow: true,
  onFailure: true,
  inputs: true,
  validate: true,
  stopped: true,
  cancelled: true,
  saga: true,
  createdAt: true,
  startAt: true,
  traceparent: true,
  eventIds: true,
  retiredAttempts: true,
  scopes: true,
} as const satisfies Record<Exclude<keyof RunHeader, ColumnField>, true>;

/** What the latest commit built from a run object held (see the module doc). */
interface LastCommit {
  /** Its header. */
  header: RunHeader;
  /** The definition of each node written by it or by the commits before it in the chain. */
  defs: Map<string, NodeDefinition>;
  /** The sources of those nodes. */
  sources: Map<string, LinkDefinition[]>;
}

/** The latest commit built from each run object. */
const lastCommits = new WeakMap<RunState, LastCommit>();

/** The `defs` of a commit none of whose nodes has a changed definition (shared: never written). */
const NO_DEFS: NodeState[] = [];

/**
 * The empty list of a commit's collections a step did not write (most steps
 * write no removal, activation, drain nor backlog): one shared, frozen array
 * rather than four new ones per commit. Stores only read a commit.
 */
const NONE: never[] = Object.freeze([]) as never[];

/**
 * Whether `a` and `b` hold the same stable fields (by identity). Field by
 * field: a loop over {@link STABLE_FIELDS}' keys makes every load a keyed,
 * megamorphic one (~1.4 % of the embedded W1 CPU); test/store/step-commit.test.ts
 * checks that every field is compared.
 */
function sameStable(a: RunHeader, b: RunHeader): boolean {
  return (
    a.id === b.id &&
    a.flow === b.flow &&
    a.onFailure === b.onFailure &&
    a.inputs === b.inputs &&
    a.validate === b.validate &&
    a.stopped === b.stopped &&
    a.cancelled === b.cancelled &&
    a.saga === b.saga &&
    a.createdAt === b.createdAt &&
    a.startAt === b.startAt &&
    a.traceparent === b.traceparent &&
    a.eventIds === b.eventIds &&
    a.retiredAttempts === b.retiredAttempts &&
    a.scopes === b.scopes
  );
}

/**
 * The nodes of `nodes` whose definition or sources are not those `last` holds
 * (all of them without `last`), recording theirs in `last`.
 */
function changedDefs(nodes: readonly NodeState[], last: LastCommit, chained: boolean): NodeState[] {
  let changed: NodeState[] = NO_DEFS;
  for (const node of nodes) {
    const id = node.def.id;
    if (chained && last.defs.get(id) === node.def && last.sources.get(id) === node.sources) continue;
    if (changed === NO_DEFS) changed = [];
    changed.push(node);
    last.defs.set(id, node.def);
    last.sources.set(id, node.sources);
  }
  return changed;
}

/**
 * The commit of a step computed from revision `expectedRev` of `state`: the
 * run header, the nodes the step changed (every node, in the run's order, for
 * a new run: `expectedRev` 0), the removed nodes, activations, history,
 * drained and appended backlogs, and the given outbox items; whether the
 * header changed and which nodes' definitions did (see the module doc).
 */
export function stepCommit(state: RunState, expectedRev: number, out: StepOutput, outbox: OutboxItem[]): StepCommit {
  let nodes: NodeState[];
  if (expectedRev === 0) nodes = [...state.nodes.values()];
  else {
    nodes = [];
    for (const id of out.nodes) {
      const node = state.nodes.get(id);
      if (node !== undefined) nodes.push(node);
    }
  }
  const run = runHeader(state);
  const previous = lastCommits.get(state);
  const chained = expectedRev !== 0 && previous !== undefined && previous.header.rev === expectedRev;
  const headerChanged = !chained || !sameStable(previous.header, run);
  const last = chained ? previous : { header: run, defs: new Map<string, NodeDefinition>(), sources: new Map<string, LinkDefinition[]>() };
  if (chained) last.header = run;
  else lastCommits.set(state, last);
  const removed = out.removed.size === 0 ? NONE : [...out.removed];
  for (const id of removed) {
    last.defs.delete(id);
    last.sources.delete(id);
  }
  return {
    run,
    expectedRev,
    headerChanged,
    nodes,
    defs: changedDefs(nodes, last, chained),
    removed,
    activations: out.activations.size === 0 ? NONE : [...out.activations.values()],
    history: out.history,
    outbox,
    drained: out.drained.size === 0 ? NONE : [...out.drained],
    backlog: out.backlog.size === 0 ? NONE : backlogRows(out.backlog),
    released: out.released.size === 0 ? NONE : [...out.released].map(([node, upTo]) => ({ node, upTo })),
    held: out.held.size === 0 ? NONE : heldRows(out.held, out.removed),
  };
}
