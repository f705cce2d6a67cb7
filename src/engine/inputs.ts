/**
 * Input resolution: bound values win, then values provided by sources (by name,
 * renamed by the link's map), then flow inputs.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import { sourceName } from '../model/graph.js';
import { hasNotified, type Backlogged, type NodeState, type RunState } from './state.js';

/** The value a node provides under `name`, if it has one. */
export function providedValue(node: NodeState, name: string): Json | undefined {
  if (!hasNotified(node) || node.result === undefined) return undefined;
  const provides = node.def.provides;
  const result = node.result;
  // A task with one provided name publishes its whole result under it; events
  // and multi-name tasks publish the fields of an object.
  if (node.def.kind === 'task' && provides !== undefined && provides.length === 1) {
    return provides[0] === name ? result : undefined;
  }
  if (provides !== undefined && !provides.includes(name)) return undefined;
  if (result !== null && typeof result === 'object' && !Array.isArray(result) && Object.hasOwn(result, name)) {
    return result[name];
  }
  return undefined;
}

/** Whether every source of the node has notified at least once. */
export function sourcesNotified(run: RunState, node: NodeState): boolean {
  for (const link of node.sources) {
    const source = run.nodes.get(link.from);
    if (source === undefined || !hasNotified(source)) return false;
  }
  return true;
}

/**
 * The inputs of a node from its bound values, its sources and the flow inputs,
 * or undefined when a required input has no value (the node cannot run yet).
 * `notified` replaces one source's latest result by the value it had at an
 * earlier notification (a persistent listener's backlogged activation).
 */
export function resolveInputs(run: RunState, node: NodeState, notified?: Backlogged): JsonObject | undefined {
  const inputs: JsonObject = {};
  const def = node.def;
  for (const name of def.requires) {
    const value = inputValue(run, node, name, notified);
    if (value === undefined) return undefined;
    inputs[name] = value;
  }
  for (const name of def.optional) {
    const value = inputValue(run, node, name, notified);
    if (value !== undefined) inputs[name] = value;
  }
  return inputs;
}

/** Where a node's input would come from, for inspection. */
export function missingInputs(run: RunState, node: NodeState): string[] {
  return node.def.requires.filter((name) => inputValue(run, node, name) === undefined);
}

function inputValue(run: RunState, node: NodeState, name: string, notified?: Backlogged): Json | undefined {
  if (Object.hasOwn(node.def.bound, name)) return node.def.bound[name];
  for (const link of node.sources) {
    const latest = run.nodes.get(link.from);
    if (latest === undefined) continue;
    const source = notified?.from === link.from && notified.value !== undefined ? { ...latest, result: notified.value } : latest;
    const value = providedValue(source, sourceName(link, name));
    if (value !== undefined) return value;
  }
  return Object.hasOwn(run.inputs, name) ? run.inputs[name] : undefined;
}
