/**
 * Input resolution: bound values win, then values provided by sources (by name,
 * renamed by the link's map), then flow inputs.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { LinkDefinition } from '../model/definition.js';
import { linkInputs, sourceName } from '../model/graph.js';
import { hasNotified, type Backlogged, type NodeState, type RunState } from './state.js';

/**
 * The value a node provides under `name`, if it has one. `held`: a value it
 * notified that is not passed on yet (a held result), which counts as its
 * result and as notified.
 */
export function providedValue(node: NodeState, name: string, held?: Json): Json | undefined {
  const result = held !== undefined ? held : node.result; // a held null is a value
  const streaming = node.def.kind === 'event' || node.def.persistent;
  if (result === undefined || !((held !== undefined && streaming) || hasNotified(node))) return undefined;
  const provides = node.def.provides;
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

/**
 * Whether every source of the node has notified at least once. Sources stay
 * notified once they are, so `cursors` remembers, per sources array, how many
 * leading sources are known to have notified: a fan-in of n sources costs O(n)
 * over all its checks, not O(n) per check. (Changes replace the array, which
 * resets its cursor.)
 */
export function sourcesNotified(run: RunState, node: NodeState, cursors?: WeakMap<readonly unknown[], number>): boolean {
  const sources = node.sources;
  const known = cursors?.get(sources) ?? 0;
  let i = known;
  for (; i < sources.length; i++) {
    const source = run.nodes.get((sources[i] as (typeof sources)[number]).from);
    if (source === undefined || !hasNotified(source)) break;
  }
  if (i !== known) cursors?.set(sources, i);
  return i === sources.length;
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
  const links = candidates(run, node);
  for (const name of def.requires) {
    const value = inputValue(run, node, name, notified, links);
    if (value === undefined) return undefined;
    inputs[name] = value;
  }
  for (const name of def.optional) {
    const value = inputValue(run, node, name, notified, links);
    if (value !== undefined) inputs[name] = value;
  }
  return inputs;
}

type Candidates = ((name: string) => readonly LinkDefinition[]) | undefined;

/**
 * For a node with many sources (a fan-in), the links that can provide each input
 * name, so that resolving n inputs from n sources costs O(n), not O(n²).
 * Links keep their order; sources with open payloads can provide any name.
 */
function candidates(run: RunState, node: NodeState): Candidates {
  if (node.sources.length <= 8) return undefined;
  const byName = new Map<string, LinkDefinition[]>();
  const open: LinkDefinition[] = [];
  const add = (name: string, link: LinkDefinition): void => {
    const list = byName.get(name);
    if (list === undefined) byName.set(name, [link]);
    else if (list[list.length - 1] !== link) list.push(link);
  };
  for (const link of node.sources) {
    const source = run.nodes.get(link.from);
    if (source === undefined) continue;
    const inputs = linkInputs(source.def, link);
    if (inputs === undefined) open.push(link);
    else for (const input of inputs) add(input, link);
  }
  if (open.length === 0) return (name) => byName.get(name) ?? [];
  const order = new Map(node.sources.map((link, i) => [link, i]));
  return (name) => [...(byName.get(name) ?? []), ...open].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
}

/**
 * A collecting input (`collect`): the values every source provides for it, in
 * link order, a map source's list spread into it; undefined when no source
 * provides it (the flow input, if any, is used then).
 */
function collectedValue(run: RunState, node: NodeState, name: string, notified?: Backlogged, links?: Candidates): Json[] | undefined {
  let collected: Json[] | undefined;
  for (const link of links === undefined ? node.sources : links(name)) {
    const source = run.nodes.get(link.from);
    if (source === undefined) continue;
    const value = providedValue(source, sourceName(link, name), notified?.from === link.from ? notified.value : undefined);
    if (value === undefined) continue;
    collected ??= [];
    if (source.def.each !== undefined && Array.isArray(value)) for (const item of value) collected.push(item);
    else collected.push(value);
  }
  return collected;
}

/** Where a node's input would come from, for inspection. */
export function missingInputs(run: RunState, node: NodeState): string[] {
  return node.def.requires.filter((name) => inputValue(run, node, name) === undefined);
}

function inputValue(run: RunState, node: NodeState, name: string, notified?: Backlogged, links?: Candidates): Json | undefined {
  if (Object.hasOwn(node.def.bound, name)) return node.def.bound[name];
  if (node.def.collect !== undefined && node.def.collect.includes(name)) {
    const collected = collectedValue(run, node, name, notified, links);
    if (collected !== undefined) return collected;
  }
  for (const link of links === undefined ? node.sources : links(name)) {
    const latest = run.nodes.get(link.from);
    if (latest === undefined) continue;
    // A value notified counts as notified, even before the source's first notification is passed on (a held result).
    const value = providedValue(latest, sourceName(link, name), notified?.from === link.from ? notified.value : undefined);
    if (value !== undefined) return value;
  }
  return Object.hasOwn(run.inputs, name) ? run.inputs[name] : undefined;
}
