/**
 * A list of changes being applied (see `changes.ts`): the step, the journal
 * that puts everything back if the list is refused, what to validate at the
 * end, and the journaled edits the changes share.
 *
 * @packageDocumentation
 */
import { UnknownNodeError } from '../errors.js';
import type { LinkDefinition } from '../model/definition.js';
import type { ChangeJournal } from './journal.js';
import { addOutgoing, removeOutgoing } from './live.js';
import type { NodeState, NodeStatus } from './state.js';
import type { StepContext } from './step-context.js';

/** Node statuses in which a node's definition and inputs may still change. */
export const UNFINISHED = new Set(['waiting', 'failed', 'cancelled', 'retrying', 'listening']);

/** What to do once the whole list is valid, on the final graph. */
export type Effect = () => void;

/** One list of changes being applied: the stepper, the undo journal, and what to validate at the end. */
export interface Edit {
  readonly s: StepContext;
  readonly journal: ChangeJournal;
  /** Nodes whose inputs must be checked on the final graph. */
  readonly check: Set<string>;
  /** Links added by the list (checked for cycles on the final graph). */
  readonly added: LinkDefinition[];
}

/** The run's node `id`; throws UnknownNodeError if there is none. */
export function node(s: StepContext, id: string): NodeState {
  const found = s.run.nodes.get(id);
  if (found === undefined) throw new UnknownNodeError(id, `run "${s.run.id}"`);
  return found;
}

/** Whether a node is still the run's (a later change of the list may have removed it). */
export const inRun = (s: StepContext, target: NodeState): boolean => s.run.nodes.get(target.def.id) === target;

/** Moves a node to a new status, journaled. */
export function setStatus(e: Edit, target: NodeState, to: NodeStatus): void {
  e.journal.node(target);
  e.s.setStatus(target, to);
}

/** Gives a node new incoming links, journaled, keeping the outgoing index in step. */
export function setSources(e: Edit, target: NodeState, sources: LinkDefinition[]): void {
  const index = e.s.live.index;
  e.journal.node(target);
  for (const link of target.sources) {
    if (sources.includes(link)) continue;
    e.journal.outgoing(link.from);
    removeOutgoing(index, link);
  }
  for (const link of sources) {
    if (target.sources.includes(link)) continue;
    e.journal.outgoing(link.from);
    addOutgoing(index, link);
    e.added.push(link);
  }
  target.sources = sources;
  e.s.touch(target);
  e.check.add(target.def.id);
}

