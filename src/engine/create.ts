/**
 * Creating a run's initial state from a flow definition.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { FlowDefinition, LinkDefinition, NodeDefinition } from '../model/definition.js';
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
  /** A delayed start: when the run starts (epoch ms); the `start` event then schedules it. */
  startAt?: number;
}

/**
 * The sources of a node that listens to nothing: one shared, frozen array (the
 * engine replaces a node's sources with a new array, never changes them).
 */
const NO_SOURCES: LinkDefinition[] = Object.freeze([]) as unknown as LinkDefinition[];

/**
 * The state of a new run, before its `start` event. Nodes keep the first
 * definition of a duplicate id; links naming an unknown node are left out (an
 * unvalidated flow may have some).
 */
export function createRun(definition: FlowDefinition, options: CreateRunOptions): RunState {
  const nodes = new Map<string, NodeState>();
  // Indexed loops: for-of allocated an iterator result per node and link here (every start).
  const defs = definition.nodes;
  for (let i = 0; i < defs.length; i++) {
    const def = defs[i] as NodeDefinition;
    if (nodes.has(def.id)) continue;
    const listening = def.kind === 'event' || def.persistent;
    nodes.set(def.id, { def, sources: NO_SOURCES, status: listening ? 'listening' : 'waiting', attempt: 0 });
  }
  const links = definition.links;
  for (let i = 0; i < links.length; i++) {
    const link = links[i] as LinkDefinition;
    const target = nodes.get(link.to);
    if (target === undefined || !nodes.has(link.from)) continue;
    if (target.sources === NO_SOURCES) target.sources = [link];
    else target.sources.push(link);
  }
  const run: RunState = {
    id: options.id,
    flow: definition.name,
    status: options.startAt === undefined ? 'running' : 'scheduled',
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
    nodes,
    activations: new Map(),
  };
  if (options.traceparent !== undefined) run.traceparent = options.traceparent;
  if (options.startAt !== undefined) run.startAt = options.startAt;
  const scopes = definition.scopes;
  if (scopes !== undefined && scopes.length > 0) {
    run.scopes = {};
    for (const scope of scopes) run.scopes[scope.id] = { onFailure: scope.onFailure, retry: scope.retry, attempt: 0 };
  }
  return run;
}
