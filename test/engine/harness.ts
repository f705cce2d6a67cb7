/**
 * Helpers for engine tests: a run driven by hand, one event at a time, with
 * every command and history entry kept for assertions.
 */
import { expect } from 'vitest';
import type { Json, JsonObject } from '../../src/codec/json.js';
import { createRun } from '../../src/engine/create.js';
import type { Change, Command, DispatchCommand, EngineEvent, HistoryEntry } from '../../src/engine/events.js';
import { liveRun, type LiveRun } from '../../src/engine/live.js';
import { copyRun, runHeader, type NodeState, type RunState, type RunStatus } from '../../src/engine/state.js';
import { emptyOutput, written, type StepOutput } from '../../src/engine/step-context.js';
import { step } from '../../src/engine/step.js';
import type { FlowDefinition } from '../../src/model/definition.js';
import type { Failure } from '../../src/model/failure.js';
import type { Flow } from '../../src/model/flow.js';
import { heldRows } from '../../src/store/backlog.js';
import type { Store } from '../../src/store/port.js';
import { TaskwireError } from '../../src/errors.js';

/** A retryable failure. */
export const oops: Failure = { name: 'Error', message: 'oops', retryable: true };
/** A failure that must not be retried. */
export const fatal: Failure = { name: 'NonRetryableError', message: 'fatal', retryable: false };

/** Options of {@link Harness}. */
export interface HarnessOptions {
  inputs?: JsonObject;
  validate?: boolean;
  id?: string;
}

let checkingCopies = false;

/**
 * Turns on (for the test file calling it) the check that stepping a run never
 * changes a {@link copyRun} copy taken before the step: a deep clone and a
 * comparison per step, too slow for every engine test; on in the files that
 * exercise backlogs and activations.
 */
export function checkCopiesOnEveryStep(): void {
  checkingCopies = true;
}

/** A run stepped by hand. Time starts at 1000 and only moves when told. */
export class Harness {
  readonly live: LiveRun;
  now = 1000;
  /** Every command produced so far, in order. */
  readonly commands: Command[] = [];
  /** Every history entry so far, in order. */
  readonly history: HistoryEntry[] = [];
  /** What the steps since the last {@link save} changed. */
  private unsaved = emptyOutput();

  /** A new run of a flow, or (given a loaded state) a run as a store holds it. */
  constructor(source: Flow | FlowDefinition | RunState, options: HarnessOptions = {}) {
    if ('activations' in source) {
      this.live = liveRun(source);
      return;
    }
    const definition = 'definition' in source ? source.definition() : source;
    this.live = liveRun(createRun(definition, { id: options.id ?? 'run-1', inputs: options.inputs ?? {}, validate: options.validate ?? true, now: this.now }));
  }

  /** The run as `store` holds it, in a new harness. */
  static async load(store: Store, id = 'run-1'): Promise<Harness> {
    const state = await store.loadRun(id);
    if (state === undefined) throw new Error(`no run ${id} in the store`);
    return new Harness(state);
  }

  /**
   * Applies one event; keeps and returns what it produced. With
   * {@link checkCopiesOnEveryStep}, checks on the way that a {@link copyRun}
   * copy taken before is not changed by the step (the coordinator keeps such a
   * copy of every new run: `Pending.pristine`).
   */
  send(event: EngineEvent): StepOutput {
    const copy = checkingCopies ? copyRun(this.live.state) : undefined;
    const before = copy === undefined ? undefined : structuredClone(copy);
    const out = step(this.live, event, this.now);
    if (copy !== undefined) expect(copy).toEqual(before);
    this.commands.push(...out.commands);
    this.history.push(...out.history);
    for (const id of out.nodes) this.unsaved.nodes.add(id);
    for (const id of out.removed) written(this.unsaved, 'removed').add(id);
    for (const [key, activation] of out.activations) written(this.unsaved, 'activations').set(key, activation);
    // Released first, then appended, as within one output (see StepOutput.released).
    for (const [node, upTo] of out.released) {
      const released = written(this.unsaved, 'released');
      released.set(node, Math.max(released.get(node) ?? upTo, upTo));
      const kept = this.unsaved.held.get(node)?.filter((entry) => entry.seq > upTo);
      if (kept !== undefined) written(this.unsaved, 'held').set(node, kept);
    }
    for (const [node, entries] of out.held) written(this.unsaved, 'held').set(node, [...(this.unsaved.held.get(node) ?? []), ...entries]);
    this.unsaved.history.push(...out.history);
    return out;
  }

  /** Commits what changed since the last save to `store`, as the coordinator does (a copy: the store shares nothing). */
  async save(store: Store): Promise<void> {
    const state = this.live.state;
    const expectedRev = state.rev++;
    const changed = expectedRev === 0 ? [...state.nodes.keys()] : [...this.unsaved.nodes];
    const nodes = changed.flatMap((id) => state.nodes.get(id) ?? []);
    const { removed, activations, history } = this.unsaved;
    const released = [...this.unsaved.released].map(([node, upTo]) => ({ node, upTo }));
    const held = heldRows(this.unsaved.held, removed);
    const commit = { run: runHeader(state), expectedRev, nodes, removed: [...removed], activations: [...activations.values()], history, outbox: [], released, held };
    const { conflicts } = await store.commit([structuredClone(commit)]);
    if (conflicts.length > 0) throw new Error(`conflict saving ${state.id}`);
    this.unsaved = emptyOutput();
  }

  start(): StepOutput {
    return this.send({ type: 'start' });
  }

  /** Signals success of the node's current attempt (or of the given one). */
  succeed(node: string, result: Json, attempt = this.node(node).attempt): StepOutput {
    return this.send({ type: 'task.succeeded', node, attempt, result });
  }

  /** Signals failure of the node's current attempt (or of the given one). */
  fail(node: string, error: Failure = oops, attempt = this.node(node).attempt): StepOutput {
    return this.send({ type: 'task.failed', node, attempt, error });
  }

  /** Signals that the node's scheduled retry is due. */
  retryDue(node: string): StepOutput {
    return this.send({ type: 'retry.due', node, attempt: this.node(node).attempt + 1 });
  }

  /** Signals the outcome of the node's rollback (of its current attempt): done, or failed with `error`. */
  rolledBack(node: string, error?: Failure): StepOutput {
    const ref = { node, attempt: this.node(node).attempt };
    return this.send(error === undefined ? { type: 'rollback.succeeded', ...ref } : { type: 'rollback.failed', ...ref, error });
  }

  /** Applies a change, or several as one, as actor `alice`. */
  change(change: Change | Change[], actor = 'alice'): StepOutput {
    return this.send(Array.isArray(change) ? { type: 'change', changes: change, actor } : { type: 'change', change, actor });
  }

  notify(event: string, payload: JsonObject): StepOutput {
    return this.send({ type: 'notify', event, payload });
  }

  node(id: string): NodeState {
    const node = this.live.state.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  get status(): RunStatus {
    return this.live.state.status;
  }

  /** Every dispatch so far, of one kind. */
  dispatches(kind: 'apply' | 'rollback' = 'apply'): DispatchCommand[] {
    return this.commands.filter((c): c is DispatchCommand => c.type === 'dispatch' && c.kind === kind);
  }

  /** Node ids of the dispatches so far, of one kind, in order. */
  dispatched(kind: 'apply' | 'rollback' = 'apply'): string[] {
    return this.dispatches(kind).map((c) => c.node);
  }

  /** History entries of one type. */
  entries(type: HistoryEntry['type']): HistoryEntry[] {
    return this.history.filter((h) => h.type === type);
  }
}

/** Apply dispatches in a step's output. */
export const applies = (out: StepOutput): DispatchCommand[] => out.commands.filter((c): c is DispatchCommand => c.type === 'dispatch' && c.kind === 'apply');

/**
 * A deep, plain copy of everything the engine keeps about a run: the state
 * (maps as objects) and the derived indexes. Two snapshots are equal when the
 * run did not change.
 */
export function snapshot(live: LiveRun): unknown {
  const { nodes, activations, ...header } = live.state;
  // Caches derived from the state (rebuilt when next needed), not part of it.
  const { outgoing, notifiedSources: _cursors, liveOrder: _order, maps: _maps, ...counts } = live.index;
  return structuredClone({
    header,
    nodes: Object.fromEntries(nodes),
    activations: Object.fromEntries(activations),
    index: { outgoing: Object.fromEntries(outgoing), ...counts },
  });
}

/** Expects `change` to be refused with a TaskwireError that leaves no trace: same state, no history entry, no command. */
export function expectRefusedWithoutTrace(h: Harness, change: Change): void {
  const before = snapshot(h.live);
  const [history, commands] = [h.history.length, h.commands.length];
  expect(() => h.change(change)).toThrow(TaskwireError);
  expect(snapshot(h.live)).toEqual(before);
  expect([h.history.length, h.commands.length]).toEqual([history, commands]);
}

/** Small deterministic PRNG (mulberry32), so that a failing property case replays. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
