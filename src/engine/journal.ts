/**
 * The undo journal of a list of live changes: the changes edit the run in
 * place, and if one of them (or the graph they leave) is invalid, the journal
 * puts back everything they touched, so that a refused list leaves no trace.
 * It keeps only what the changes touch (the run header and index scalars, the
 * nodes, links and activations edited), so its cost follows the change, not
 * the run's size.
 *
 * @packageDocumentation
 */
import type { LinkDefinition } from '../model/definition.js';
import { forgetLiveOrder, type RunIndex } from './live.js';
import type { ActivationState, Held, NodeState, RunState } from './state.js';
import type { StepOutput } from './step-context.js';

type Header = Pick<RunState, 'graphVersion' | 'seq' | 'stopped' | 'cancelled' | 'retiredAttempts'>;
type IndexScalars = Pick<RunIndex, 'undoing' | 'liveActivations' | 'persistent' | 'conditional' | 'counts'>;

/** Restores an object's own fields from a shallow copy (fields added since are dropped). */
function restore<T extends object>(target: T, copy: T): void {
  const fields = target as Record<string, unknown>;
  for (const key of Object.keys(fields)) delete fields[key];
  Object.assign(target, copy);
}

/** What a list of changes touched, as it was before: see the module doc. */
export class ChangeJournal {
  private readonly header: Header;
  private readonly index: IndexScalars;
  private readonly output: {
    commands: number;
    history: number;
    nodes: Set<string>;
    removed: Set<string>;
    activations: Map<string, ActivationState>;
    held: Map<string, Held[]>;
    released: Map<string, number>;
  };
  /** Node ids whose membership in the run may change, with the node they held. */
  private readonly members = new Map<string, NodeState | undefined>();
  /** Nodes whose fields may change, with a shallow copy. */
  private readonly nodes = new Map<NodeState, NodeState>();
  /** Sources whose outgoing link list may change, with a copy. */
  private readonly links = new Map<string, LinkDefinition[] | undefined>();
  /** Activations that may change, with their key, a copy and whether they were live. */
  private readonly activations = new Map<ActivationState, { key: string; copy: ActivationState; present: boolean }>();

  constructor(
    private readonly run: RunState,
    private readonly runIndex: RunIndex,
    private readonly out: StepOutput,
  ) {
    this.header = { graphVersion: run.graphVersion, seq: run.seq, stopped: run.stopped, cancelled: run.cancelled, retiredAttempts: run.retiredAttempts };
    this.index = { undoing: runIndex.undoing, liveActivations: runIndex.liveActivations, persistent: runIndex.persistent, conditional: runIndex.conditional, counts: { ...runIndex.counts } };
    this.output = {
      commands: out.commands.length,
      history: out.history.length,
      nodes: new Set(out.nodes),
      removed: new Set(out.removed),
      activations: new Map(out.activations),
      held: new Map([...out.held].map(([id, entries]) => [id, [...entries]])),
      released: new Map(out.released),
    };
  }

  /** The run's node order, kept before the first removal (a node put back goes back to its place). */
  private order: string[] | undefined;

  /** Keeps which node (if any) the run holds under `id`, before adding or removing one. */
  member(id: string): void {
    if (this.members.has(id)) return;
    const node = this.run.nodes.get(id);
    if (node !== undefined) this.order ??= [...this.run.nodes.keys()];
    this.members.set(id, node);
  }

  /** Keeps a node's fields before editing them. */
  node(node: NodeState): void {
    if (!this.nodes.has(node)) this.nodes.set(node, { ...node });
  }

  /** Keeps the outgoing links of `from` before editing them. */
  outgoing(from: string): void {
    if (!this.links.has(from)) {
      const list = this.runIndex.outgoing.get(from);
      this.links.set(from, list === undefined ? undefined : [...list]);
    }
  }

  /** Keeps an activation before editing it or dropping it from the live state. */
  activation(key: string, activation: ActivationState): void {
    if (!this.activations.has(activation)) this.activations.set(activation, { key, copy: { ...activation }, present: this.run.activations.get(key) === activation });
  }

  /** Puts back everything kept: the run, its indexes and the step output are as they were. */
  undo(): void {
    Object.assign(this.run, this.header);
    if (this.header.retiredAttempts === undefined) delete this.run.retiredAttempts;
    Object.assign(this.runIndex, this.index);
    forgetLiveOrder(this.runIndex);
    for (const [node, copy] of this.nodes) restore(node, copy);
    for (const [id, node] of this.members) {
      if (node === undefined) this.run.nodes.delete(id);
      else this.run.nodes.set(id, node);
    }
    if (this.order !== undefined) {
      const nodes = new Map(this.run.nodes);
      this.run.nodes.clear();
      for (const id of this.order) {
        const node = nodes.get(id);
        if (node !== undefined) this.run.nodes.set(id, node); // not one the list added
      }
    }
    for (const [from, list] of this.links) {
      if (list === undefined) this.runIndex.outgoing.delete(from);
      else this.runIndex.outgoing.set(from, list);
    }
    for (const [activation, { key, copy, present }] of this.activations) {
      restore(activation, copy);
      if (present) this.run.activations.set(key, activation);
      else this.run.activations.delete(key);
    }
    const out = this.out;
    out.commands.length = this.output.commands;
    out.history.length = this.output.history;
    out.nodes = this.output.nodes;
    out.removed = this.output.removed;
    out.activations = this.output.activations;
    out.held = this.output.held;
    out.released = this.output.released;
  }
}
