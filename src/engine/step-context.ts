/**
 * What one step works with and produces: the {@link StepContext} that the
 * engine's parts (outcomes, activations, changes, saga, leases) are given, and
 * the {@link StepOutput} they append to. A module of its own so that those parts depend on it and not
 * on `step.ts`, which calls them (no import circle).
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { ConditionLookup } from '../model/condition.js';
import type { Command, ExecutionRef, HistoryEntry } from './events.js';
import type { LiveRun } from './live.js';
import type { ActivationState, ActivationStatus, Backlogged, Held, NodeState, NodeStatus, RunState, UndoStatus } from './state.js';

/**
 * What one or more steps produced: the commands to carry out and what to
 * persist. Readers take it as it is; the engine writes `removed`, `activations`,
 * `backlog`, `drained`, `held` and `released` through {@link written} (see {@link emptyOutput}).
 */
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
  /** Held results appended (not released since), by node id: one store row each (see `releaseHeld`). */
  held: Map<string, Held[]>;
  /** Per node, the highest seq of the held results released (its stored held rows up to it go, before `held` is written). */
  released: Map<string, number>;
}

/** A set that stays empty: writing to it throws (a write that bypassed {@link written}). */
class EmptySet extends Set<string> {
  override add(): never {
    throw new Error('internal: a step output collection written without written()');
  }
  override delete(): boolean {
    return false;
  }
  override clear(): void {}
}

/** A map that stays empty: setting an entry throws (a write that bypassed {@link written}). */
class EmptyMap<V> extends Map<string, V> {
  override set(): never {
    throw new Error('internal: a step output collection written without written()');
  }
  override delete(): boolean {
    return false;
  }
  override clear(): void {}
}

const NO_IDS: Set<string> = new EmptySet();
const NO_ENTRIES: Map<string, never> = new EmptyMap<never>();

/** The collections of a {@link StepOutput} that few steps write, shared empty until then. */
type Rare = 'removed' | 'activations' | 'backlog' | 'drained' | 'held' | 'released';

/**
 * An empty step output, to accumulate several events into one commit. The
 * collections few steps write (removed nodes, activations, backlogs, drains)
 * start as shared empty ones, replaced by a fresh one on the first write
 * ({@link written}): five hash tables per stepped run were ~6 % of the bytes
 * the embedded W3 benchmark allocated.
 */
export function emptyOutput(): StepOutput {
  return { commands: [], history: [], nodes: new Set(), removed: NO_IDS, activations: NO_ENTRIES, backlog: NO_ENTRIES, drained: NO_IDS, held: NO_ENTRIES, released: NO_ENTRIES };
}

/** `out[key]`, to write to: a fresh collection in place of the shared empty one. */
export function written<K extends Rare>(out: StepOutput, key: K): StepOutput[K] {
  const current: unknown = out[key];
  if (current === NO_IDS) return (out[key] = new Set() as StepOutput[K]);
  if (current === NO_ENTRIES) return (out[key] = new Map() as StepOutput[K]);
  return out[key];
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
  /** The conditions registered in the coordinator, that conditional links name. */
  readonly conditions: ConditionLookup;
  /** While the listeners of nodes skipped by conditions are decided: the skipped nodes whose listeners are still to decide (see `engine/conditions.ts`). */
  skipped: NodeState[] | undefined;
  /** Whether new work may start: not cancelled and no saga in progress. */
  readonly accepting: boolean;
  /** Moves a node to a new status, checking the transition table (by default `NODE_TRANSITIONS`) and keeping counts. */
  setStatus(node: NodeState, to: NodeStatus, table?: Readonly<Record<NodeStatus, readonly NodeStatus[]>>): void;
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
   * Sends an execution (`holder`: the node, or its activation) to the workers:
   * its dispatch command, `queuedAt` now (its start not reported yet) and a
   * `node.queued` history entry (with `detail`, if any).
   */
  enqueue(node: NodeState, holder: NodeState | ActivationState, ref: ExecutionRef, inputs: JsonObject, detail?: JsonObject): void;
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
