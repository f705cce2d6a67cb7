/**
 * What a store commits for one step of the engine (see `Store.commit`).
 *
 * @packageDocumentation
 */
import { runHeader, type NodeState, type RunState } from '../engine/state.js';
import type { StepOutput } from '../engine/step-context.js';
import { backlogRows } from './backlog.js';
import type { OutboxItem, StepCommit } from './port.js';

/**
 * The commit of a step computed from revision `expectedRev` of `state`: the
 * run header, the nodes the step changed (every node, in the run's order, for
 * a new run: `expectedRev` 0), the removed nodes, activations, history,
 * drained and appended backlogs, and the given outbox items.
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
  return {
    run: runHeader(state),
    expectedRev,
    nodes,
    removed: [...out.removed],
    activations: [...out.activations.values()],
    history: out.history,
    outbox,
    drained: [...out.drained],
    backlog: backlogRows(out.backlog),
  };
}
