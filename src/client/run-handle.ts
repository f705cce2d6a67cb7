/**
 * A handle on one run: wait for it, read it, change it while it runs.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { decodeChange } from '../codec/definitions.js';
import type { Json } from '../codec/json.js';
import { decodeValue } from '../codec/value.js';
import type { StepReport } from '../coordinator/options.js';
import type { Change, HistoryEntry } from '../engine/events.js';
import { SETTLED, type ActivationState, type RunState } from '../engine/state.js';
import { liveRun } from '../engine/live.js';
import { step } from '../engine/step.js';
import { TaskwireError, UnknownNodeError, UnknownRunError } from '../errors.js';
import type { AnyCondition, ConditionDepth } from '../model/condition.js';
import type { LinkCondition, NodeDefinition } from '../model/definition.js';
import type { AnyNode } from '../model/node.js';
import { checkName } from '../model/names.js';
import type { Page } from '../store/port.js';
import type { RuntimeParts, TaskRef } from './parts.js';
import { engineChange, idOf, type LinkTarget, type NodeRef, type Replacement, type RunChange } from './run-changes.js';
import { RunFailedError } from './run-failed.js';
import { snapshot, type RunSnapshot } from './snapshot.js';

/** Options of {@link RunHandle.add}. */
export interface AddOptions {
  /** Nodes the new node listens to. */
  sources?: LinkTarget[];
  /** Nodes that will listen to the new node. */
  listeners?: LinkTarget[];
}

/** Options of {@link RunHandle.change}. */
export interface ChangeOptions {
  /**
   * Change id: a run applies a change at most once per id (of the last 64
   * client events it received), so a change whose outcome is unknown (a
   * `TW_TIMEOUT` or `TW_STORE` answer) can be sent again with the same id;
   * sent again, it answers the run as it is.
   * @default a random UUID
   */
  id?: string;
  /**
   * Who makes the change, in the run's history (the dashboard gives
   * `dashboard:<name>`).
   * @default the client's actor (`connect({ actor })`)
   */
  actor?: string;
}

/** Options of {@link RunHandle.wait}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (rejects with code `TW_TIMEOUT`). */
  timeoutMs?: number;
}

const isList = (changes: RunChange | readonly RunChange[]): changes is readonly RunChange[] => Array.isArray(changes);

/** A handle on a run. Get one from `client.start()` or `client.run(id)`. */
export class RunHandle {
  /** @internal */
  constructor(
    /** Run id. */
    readonly id: string,
    private readonly parts: RuntimeParts,
  ) {}

  /** The run as it is now: status, every node's state, attempts, errors, results, what waiting nodes wait for. */
  async status(): Promise<RunSnapshot> {
    const state = await this.parts.store.loadRun(this.id);
    if (state === undefined) throw new UnknownRunError(this.id);
    return snapshot(state);
  }

  /**
   * Waits until the run is settled (`succeeded`, `failed`, `stalled`,
   * `rolled_back`, `rollback_failed` or `cancelled`) and returns it. A run with persistent
   * listeners settles only once stopped.
   */
  async wait(options: WaitOptions = {}): Promise<RunSnapshot> {
    let wake: () => void = () => undefined;
    const subscription = await this.parts.transport.subscribe(`run.${this.id}.$run.#`, () => wake());
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    try {
      for (;;) {
        const current = await this.status();
        if (SETTLED.has(current.status)) return current;
        const left = deadline - Date.now();
        if (left <= 0) throw new TaskwireError('TW_TIMEOUT', `run "${this.id}" is still ${current.status} after ${options.timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, this.parts.pollIntervalMs));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      await subscription.cancel();
    }
  }

  /**
   * Waits like {@link RunHandle.wait}, then resolves with the run if it
   * succeeded, or rejects with a {@link RunFailedError} carrying the original
   * failure (name, message, stack, node, attempt), as awaiting a function call
   * would. `timeoutMs` rejects with `TW_TIMEOUT`, as for `wait()`.
   */
  async done(options: WaitOptions = {}): Promise<RunSnapshot> {
    const run = await this.wait(options);
    if (run.status !== 'succeeded') throw new RunFailedError(run);
    return run;
  }

  /** The decoded result of a node; throws if the node has none (yet). */
  async result<O = unknown>(node: { readonly id: string; readonly types?: { output: O } } | string): Promise<O>;
  async result(node: NodeRef): Promise<unknown> {
    const id = idOf(node);
    const run = await this.status();
    const view = run.nodes[id];
    if (view === undefined) throw new UnknownNodeError(id, `run "${this.id}"`);
    if (!('result' in view)) throw new TaskwireError('TW_VALIDATION', `node "${id}" of run "${this.id}" has no result: it is ${view.status}`);
    return view.result;
  }

  /** Every node's decoded result, by node id (nodes without a result are left out). */
  async results(): Promise<Record<string, unknown>> {
    const run = await this.status();
    const results: Record<string, unknown> = {};
    for (const [id, view] of Object.entries(run.nodes)) if ('result' in view) results[id] = view.result;
    return results;
  }

  /** The run's history: what happened, who changed what, with graph versions. */
  async history(page?: Page): Promise<HistoryEntry[]> {
    return this.parts.store.history(this.id, page);
  }

  /** Activations of a persistent listener (or of all), in notification order, inputs and results decoded. */
  async activations(node?: NodeRef, page?: Page): Promise<ActivationState[]> {
    const list = await this.parts.store.activations(this.id, node === undefined ? undefined : idOf(node), page);
    return list.map((a) => ({ ...a, inputs: decodeValue(a.inputs) as ActivationState['inputs'], ...(a.result === undefined ? {} : { result: decodeValue(a.result) as Json }) }));
  }

  /** Adds a node to the running flow, with the nodes it listens to and the nodes that will listen to it. */
  add(node: AnyNode | NodeDefinition | TaskRef, options: AddOptions = {}): Promise<StepReport> {
    return this.change({ op: 'add', node, ...options });
  }

  /** Removes a node (a running one is aborted). */
  remove(node: NodeRef): Promise<StepReport> {
    return this.change({ op: 'remove', node });
  }

  /** `to` starts listening to `from`. */
  link(from: NodeRef, to: NodeRef, options: { map?: Record<string, string> } = {}): Promise<StepReport> {
    return this.change({ op: 'link', from, to, ...options });
  }

  /** `to` stops listening to `from`. */
  unlink(from: NodeRef, to: NodeRef): Promise<StepReport> {
    return this.change({ op: 'unlink', from, to });
  }

  /** `node` listens to `to` instead of `from`. */
  relink(node: NodeRef, from: NodeRef, to: NodeRef, options: { map?: Record<string, string> } = {}): Promise<StepReport> {
    return this.change({ op: 'relink', node, from, to, ...options });
  }

  /** Replaces a node that has not finished (or has failed): a new task, new bound inputs, new policies. */
  replace(node: NodeRef, replacement: Replacement): Promise<StepReport> {
    return this.change({ op: 'replace', node, with: replacement });
  }

  /**
   * Retries a failed or cancelled node (or a failed activation of a persistent
   * listener, or a failed child of a map node: `retry('fan[3]')`; a failed map
   * node retried as a whole retries its failed children).
   */
  retry(node: NodeRef, options: { activation?: number } = {}): Promise<StepReport> {
    return this.change({ op: 'retry', node, ...options });
  }

  /** Skips a node that has not run or has failed; `value` is what it provides to its listeners. */
  skip(node: NodeRef, value?: unknown): Promise<StepReport> {
    return this.change({ op: 'skip', node, result: value });
  }

  /**
   * Sets the condition of the link `from` -> `to` (`null` removes it), while
   * `to` has not run nor been decided: `when` is a condition (registered in
   * this process) or one named as data. See docs/conditions.md.
   */
  condition(from: NodeRef, to: NodeRef, when: AnyCondition | LinkCondition | null, options: { on?: string; depth?: ConditionDepth } = {}): Promise<StepReport> {
    return this.change({ op: 'condition', from, to, condition: when, ...options });
  }

  /** Cancels the run: running tasks see their AbortSignal fire. */
  cancel(): Promise<StepReport> {
    return this.change({ op: 'cancel' });
  }

  /** Stops persistent listeners: no new activations; running ones finish. */
  stop(): Promise<StepReport> {
    return this.change({ op: 'stop' });
  }

  /**
   * Applies one change, or several as one: the list is checked change by
   * change and its result validated as a whole, then applied in one step under
   * one new graph version (each change recorded in the history with it and the
   * client's actor name), or refused whole, leaving no trace. `options.id`
   * makes sending it again safe (see {@link ChangeOptions.id}).
   */
  async change(changes: RunChange | readonly RunChange[], options: ChangeOptions = {}): Promise<StepReport> {
    const engine = await this.engineChanges(changes);
    // The id makes the change apply once, even when it is stepped again after an ambiguous commit or a redelivery.
    const id = options.id === undefined ? randomUUID() : checkName(options.id, 'change id');
    return this.parts.writer.change(this.id, engine, options.actor ?? this.parts.actor, id);
  }

  /**
   * What-if: the run's state as it would be after `changes` (as given to
   * {@link RunHandle.change}), computed by the engine on a copy of the stored
   * state. Nothing is written, nothing is dispatched. Rejects as `change`
   * would on a refused list (the engine's error, naming the nodes), and with
   * `TW_UNKNOWN_RUN`.
   */
  async preview(changes: RunChange | readonly RunChange[]): Promise<RunState> {
    const engine = await this.engineChanges(changes);
    const stored = await this.parts.store.loadRun(this.id);
    if (stored === undefined) throw new UnknownRunError(this.id);
    // A deep copy: a store may share nested values with what it keeps (the memory store copies one level).
    const state = structuredClone(stored);
    step(liveRun(state), { type: 'change', changes: engine, actor: this.parts.actor }, Date.now(), undefined, this.parts.conditions);
    return state;
  }

  private engineChanges(changes: RunChange | readonly RunChange[]): Promise<Change[]> {
    const list = isList(changes) ? changes : [changes];
    return Promise.all(list.map((change) => toEngineChange(change, this.parts)));
  }
}

/**
 * A change as the engine takes it, checked by the change decoder. A change that
 * is not even shaped like the typed API's (raw input: a CLI list, a fuzzer) goes
 * to the decoder as it is, which refuses it with a code naming the field.
 */
async function toEngineChange(change: RunChange, parts: RuntimeParts): Promise<Change> {
  let converted: unknown = change;
  try {
    converted = await engineChange(change, parts);
  } catch (error) {
    if (error instanceof TaskwireError) throw error;
  }
  return decodeChange(converted);
}
