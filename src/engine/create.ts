/**
 * Creating a run's initial state from a flow definition.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { FlowDefinition, LinkDefinition } from '../model/definition.js';
import type { NodeState, RunState } from './state.js';

/** Options of {@link createRun}. */
export interface CreateRunOptions {
  /** Run id. */
  id: string;
  /** Flow inputs. */
  inputs: JsonObject;
  /** Whether the flow was validated. */
  validate: boolean;
  /** Creation time (epoch ms). */
  now: number;
  /** W3C trace context of the run's root span, if any. */
  traceparent?: string;
}

/** The state of a new run, before its `start` event. Nodes keep the first definition of a duplicate id. */
export function createRun(definition: FlowDefinition, options: CreateRunOptions): RunState {
  const incoming = new Map<string, LinkDefinition[]>();
  for (const link of definition.links) {
    const list = incoming.get(link.to);
    if (list === undefined) incoming.set(link.to, [link]);
    else list.push(link);
  }
  const nodes = new Map<string, NodeState>();
  for (const def of definition.nodes) {
    if (nodes.has(def.id)) continue;
    const listening = def.kind === 'event' || def.persistent;
    nodes.set(def.id, { def, sources: incoming.get(def.id) ?? [], status: listening ? 'listening' : 'waiting', attempt: 0 });
  }
  for (const [to, links] of incoming) {
    if (!nodes.has(to)) continue;
    const kept = links.filter((link) => nodes.has(link.from));
    (nodes.get(to) as NodeState).sources = kept;
  }
  return {
    id: options.id,
    flow: definition.name,
    status: 'running',
    rev: 0,
    graphVersion: 1,
    onFailure: definition.onFailure,
    inputs: options.inputs,
    validate: options.validate,
    seq: 0,
    stopped: false,
    cancelled: false,
    saga: false,
    createdAt: options.now,
    updatedAt: options.now,
    ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    nodes,
    activations: new Map(),
  };
}
