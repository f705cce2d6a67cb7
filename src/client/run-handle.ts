/**
 * A handle on one run: wait for it, read it, change it while it runs.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { Json, JsonObject } from '../codec/json.js';
import { decodeValue, encodeValue } from '../codec/value.js';
import type { StepReport } from '../coordinator/options.js';
import type { Change, HistoryEntry, LinkSpec } from '../engine/events.js';
import { SETTLED, type ActivationState } from '../engine/state.js';
import { TaskwireError, UnknownNodeError, UnknownRunError } from '../errors.js';
import type { NodeDefinition } from '../model/definition.js';
import type { TaskNode} from '../model/node.js';
import { type AnyNode } from '../model/node.js';
import type { Page } from '../store/port.js';
import { nodeDefinitionOf, type RuntimeParts, type TaskRef } from './parts.js';
import { snapshot, type RunSnapshot } from './snapshot.js';

/** A source or listener given to {@link RunHandle.add}: a node id, or an id with a rename map. */
export type LinkTarget = string | { node: string; map?: Record<string, string> };

/** Options of {@link RunHandle.add}. */
export interface AddOptions {
  /** Nodes the new node listens to. */
  sources?: LinkTarget[];
  /** Nodes that will listen to the new node. */
  listeners?: LinkTarget[];
}

/** Options of {@link RunHandle.wait}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (rejects with code `TW_TIMEOUT`). */
  timeoutMs?: number;
}

const toSpec = (target: LinkTarget): LinkSpec => (typeof target === 'string' ? { node: target } : { ...target });

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
   * `rolled_back` or `cancelled`) and returns it. A run with persistent
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

  /** The decoded result of a node; throws if the node has none (yet). */
  async result<O = unknown>(node: { readonly id: string; readonly types?: { output: O } } | string): Promise<O>;
  async result(node: { readonly id: string } | string): Promise<unknown> {
    const id = typeof node === 'string' ? node : node.id;
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
  async activations(node?: string, page?: Page): Promise<ActivationState[]> {
    const list = await this.parts.store.activations(this.id, node, page);
    return list.map((a) => ({ ...a, inputs: decodeValue(a.inputs) as ActivationState['inputs'], ...(a.result === undefined ? {} : { result: decodeValue(a.result) as Json }) }));
  }

  /** Adds a node to the running flow, with the nodes it listens to and the nodes that will listen to it. */
  async add(node: AnyNode | NodeDefinition | TaskRef, options: AddOptions = {}): Promise<StepReport> {
    const def = await nodeDefinitionOf(node, this.parts);
    return this.change({ op: 'add', node: def, sources: (options.sources ?? []).map(toSpec), listeners: (options.listeners ?? []).map(toSpec) });
  }

  /** Removes a node (a running one is aborted). */
  remove(node: string): Promise<StepReport> {
    return this.change({ op: 'remove', node });
  }

  /** `to` starts listening to `from`. */
  link(from: string, to: string, options: { map?: Record<string, string> } = {}): Promise<StepReport> {
    return this.change(options.map === undefined ? { op: 'link', from, to } : { op: 'link', from, to, map: options.map });
  }

  /** `to` stops listening to `from`. */
  unlink(from: string, to: string): Promise<StepReport> {
    return this.change({ op: 'unlink', from, to });
  }

  /** `node` listens to `to` instead of `from`. */
  relink(node: string, from: string, to: string, options: { map?: Record<string, string> } = {}): Promise<StepReport> {
    return this.change(options.map === undefined ? { op: 'relink', node, from, to } : { op: 'relink', node, from, to, map: options.map });
  }

  /** Replaces a node that has not finished (or has failed): a new task, new bound inputs, new policies. */
  async replace(node: string, replacement: TaskNode | TaskRef | Partial<Omit<NodeDefinition, 'id' | 'kind'>>): Promise<StepReport> {
    // Duck typing: a flow file loaded through tsx may carry its own copy of TaskNode.
    const named = 'definition' in replacement || typeof (replacement as TaskRef).task === 'string';
    const fields = replacement as Partial<NodeDefinition>;
    const changes = named
      ? await nodeDefinitionOf(replacement as TaskNode | TaskRef, this.parts)
      : fields.bound === undefined
        ? fields
        : { ...fields, bound: encodeValue(fields.bound, `the bound inputs given to replace node "${node}"`) as JsonObject };
    const { id: _id, kind: _kind, ...rest } = changes as NodeDefinition;
    return this.change({ op: 'replace', node, with: rest });
  }

  /** Retries a failed or cancelled node (or a failed activation of a persistent listener). */
  retry(node: string, options: { activation?: number } = {}): Promise<StepReport> {
    return this.change(options.activation === undefined ? { op: 'retry', node } : { op: 'retry', node, activation: options.activation });
  }

  /** Skips a node that has not run or has failed; `value` is what it provides to its listeners. */
  async skip(node: string, value?: unknown): Promise<StepReport> {
    return this.change({ op: 'skip', node, result: encodeValue(value, `the value given to skip node "${node}"`) });
  }

  /** Cancels the run: running tasks see their AbortSignal fire. */
  cancel(): Promise<StepReport> {
    return this.change({ op: 'cancel' });
  }

  /** Stops persistent listeners: no new activations; running ones finish. */
  stop(): Promise<StepReport> {
    return this.change({ op: 'stop' });
  }

  /** Applies a change (validated, atomic, recorded in the history with the client's actor name). */
  change(change: Change): Promise<StepReport> {
    this.parts.coordinator.invalidate(this.id);
    // The id makes the change apply once, even when it is stepped again after an ambiguous commit.
    return this.parts.coordinator.submit(this.id, { type: 'change', change, actor: this.parts.actor }, randomUUID());
  }
}
