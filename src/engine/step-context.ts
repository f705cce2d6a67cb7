/**
 * What one step works with and produces: the {@link StepContext} that the
 * engine's parts (outcomes, activations, changes, saga, leases) are given, and
 * the {@link StepOutput} they append to. A module of its own so that those parts depend on it and not
 * on `step.ts`, which calls them (no import circle).
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { Command, ExecutionRef, HistoryEntry } from './events.js';
import type { LiveRun } from './live.js';
import type { ActivationState, ActivationStatus, Backlogged, NodeState, NodeStatus, RunState, UndoStatus } from './state.js';

/** What one or more steps produced: the commands to carry out and what to persist. */
export interface StepOutput {
  /** Commands for the runtime, in order. */
  commands: Command[];
  /** New history entries, in order. */
  history: HistoryEntry[];
  /** Ids of nodes whose state changed (persist their rows). */
  nodes: Set<string>;
  /** Ids of nodes removed from the run. */
  removed: Set<string>;
  /** Activations whose state changed, by key, with their latest state (finished ones included). */
  activations: Map<string, ActivationState>;
  /** Backlog entries appended (since the node's last drain), by node id: one store row each. */
  backlog: Map<string, Backlogged[]>;
  /** Nodes whose backlog was drained (its stored rows go). */
  drained: Set<string>;
}

/** An empty step output, to accumulate several events into one commit. */
export function emptyOutput(): StepOutput {
  return { commands: [], history: [], nodes: new Set(), removed: new Set(), activations: new Map(), backlog: new Map(), drained: new Set() };
}

/** One step's working context, as the engine's parts use it (implemented by `Stepper` in `step.ts`). */
export interface StepContext {
  /** The run being stepped. */
  readonly run: RunState;
  /** The run with its indexes. */
  readonly live: LiveRun;
  /** The step's time (epoch ms). */
  readonly now: number;
  /** Where results accumulate. */
  readonly out: StepOutput;
  /** Whether new work may start: not cancelled and no saga in progress. */
  readonly accepting: boolean;
  /** Moves a node to a new status, checking the transition table and keeping counts. */
  setStatus(node: NodeState, to: NodeStatus): void;
  /** Marks a node as changed (to be persisted). */
  touch(node: NodeState): void;
  /**
   * Moves the rollback of a node or an activation to a new status (`none`:
   * forgotten, for a new attempt), checking the transition table and keeping counts.
   */
  setUndo(holder: NodeState | ActivationState, to: UndoStatus | 'none'): void;
  /** Moves an activation to a new status, checking the transition table. */
  setActivation(activation: ActivationState, to: ActivationStatus): void;
  /** Appends a history entry. */
  record(entry: Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'>): void;
  /** Dispatches a waiting node if all its sources have notified and its inputs resolve. */
  tryStart(node: NodeState): void;
  /** Starts a new attempt of a waiting node with `inputs`. */
  dispatch(node: NodeState, inputs: JsonObject): void;
  /** A dispatch command for an execution of a node. */
  dispatchCommand(node: NodeState, ref: ExecutionRef, inputs: JsonObject): Command;
  /**
   * Tells every listener of `source` that it has notified; `value` is the
   * notification's own value when it is not the source's latest result.
   */
  notifyListeners(source: NodeState, value?: Json): void;
  /** The running activation an execution reference names, if it matches. */
  liveActivation(ref: ExecutionRef): ActivationState | undefined;
  /** The running node an execution reference names, if the attempt matches. */
  runningNode(ref: ExecutionRef): NodeState | undefined;
}
