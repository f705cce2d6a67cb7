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
 * @packageDocumentation
 */
import { runHeader, type NodeState, type RunHeader, type RunState } from '../engine/state.js';
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
  traceparent: true,
  eventIds: true,
  retiredAttempts: true,
} as const satisfies Record<Exclude<keyof RunHeader, ColumnField>, true>;

/** The header of the latest commit built from each run object (see the module doc). */
const lastHeaders = new WeakMap<RunState, RunHeader>();

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
    a.traceparent === b.traceparent &&
    a.eventIds === b.eventIds &&
    a.retiredAttempts === b.retiredAttempts
  );
}

/**
 * The commit of a step computed from revision `expectedRev` of `state`: the
 * run header, the nodes the step changed (every node, in the run's order, for
 * a new run: `expectedRev` 0), the removed nodes, activations, history,
 * drained and appended backlogs, and the given outbox items; and whether the
 * header changed (see the module doc).
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
  const previous = lastHeaders.get(state);
  lastHeaders.set(state, run);
  return {
    run,
    expectedRev,
    headerChanged: expectedRev === 0 || previous === undefined || previous.rev !== expectedRev || !sameStable(previous, run),
    nodes,
    removed: out.removed.size === 0 ? NONE : [...out.removed],
    activations: out.activations.size === 0 ? NONE : [...out.activations.values()],
    history: out.history,
    outbox,
    drained: out.drained.size === 0 ? NONE : [...out.drained],
    backlog: out.backlog.size === 0 ? NONE : backlogRows(out.backlog),
    released: out.released.size === 0 ? NONE : [...out.released].map(([node, upTo]) => ({ node, upTo })),
    held: out.held.size === 0 ? NONE : heldRows(out.held, out.removed),
  };
}
