/**
 * Map and collect (see docs/map-collect.md): a node that fans out over a list,
 * one child execution per element (`node[i]`), and an input that collects the
 * values of several sources (and the lists of map sources) into one list.
 *
 * Glossary:
 * - map node: a node with `each`, the required input that holds the list; each
 *   child receives one element under that name, the node's result is the list
 *   of the children's results, in element order.
 * - child: one execution of a map node, for element `i`, named `node[i]`.
 * - collecting input: an input named in a node's `collect`; it receives the
 *   values every source provides for it, in link order, a map source's list
 *   spread into it (a chord).
 *
 * @packageDocumentation
 */
import { ConfigError, type ValidationProblem } from '../errors.js';
import type { NodeDefinition } from './definition.js';

/**
 * The map fields of a node's options (see `NodeOptions`).
 *
 * @example
 * const pages = resize.s({}, { each: 'page', concurrency: 3 }); // one child per page, 3 at once
 * const bind = album.s({}, { collect: 'images' });               // a list of every source's image(s)
 */
export interface MapOptions {
  /** The required input that holds the list to fan out over: one child per element. */
  each?: string;
  /**
   * At most this many children run at once (a positive integer).
   * @default no bound
   */
  concurrency?: number;
  /** Inputs that collect the values of every source (and the lists of map sources) into one list. */
  collect?: string | readonly string[];
}

/** The map fields of a node definition, as data. */
export type MapFields = Pick<NodeDefinition, 'each' | 'concurrency' | 'collect'>;

/** The name of child `index` of map node `node`: `node[index]`. */
export function childName(node: string, index: number): string {
  return `${node}[${index}]`;
}

/** Reads a child's name (`node[index]`) back into its node and index; undefined for a plain node id. */
export function parseChildName(name: string): { node: string; index: number } | undefined {
  const match = /^(.+)\[(\d{1,9})\]$/.exec(name);
  return match === null ? undefined : { node: match[1] as string, index: Number(match[2]) };
}

/**
 * What is wrong with a node's map fields, as messages naming the node and the
 * field: `each` on an input the task does not require, on a persistent
 * listener or an event, `concurrency` that is not a positive integer or comes
 * without `each`, `collect` of an input the task does not take.
 */
export function mapFieldErrors(node: NodeDefinition): string[] {
  const errors: string[] = [];
  const at = `node "${node.id}"`;
  if (node.each !== undefined) {
    if (node.kind !== 'task') errors.push(`${at}: each is only for task nodes`);
    else if (node.persistent) errors.push(`${at}: each cannot be used on a persistent listener (it runs once per notification already)`);
    if (!node.requires.includes(node.each)) errors.push(`${at}: each names input "${node.each}", which its task does not require (requires: ${JSON.stringify(node.requires)})`);
    if (Object.hasOwn(node.bound, node.each) && !Array.isArray(node.bound[node.each])) errors.push(`${at}: each input "${node.each}" is bound to a value that is not a list`);
  }
  if (node.concurrency !== undefined) {
    const n = node.concurrency;
    if (!Number.isSafeInteger(n) || n < 1) errors.push(`${at}: concurrency expected a positive integer, got ${String(n)} (${typeof n})`);
    if (node.each === undefined) errors.push(`${at}: concurrency bounds the children of a map node: give each as well`);
  }
  for (const input of node.collect ?? []) {
    if (!node.requires.includes(input) && !node.optional.includes(input)) errors.push(`${at}: collect names input "${input}", which its task does not take`);
  }
  return errors;
}

/** The map fields of a node's options, checked against its definition; throws `TW_CONFIG` naming the node and the field. */
export function resolveMapOptions(options: MapOptions, def: NodeDefinition): MapFields {
  const fields: MapFields = {};
  if (options.each !== undefined) fields.each = options.each;
  if (options.concurrency !== undefined) fields.concurrency = options.concurrency;
  if (options.collect !== undefined) fields.collect = typeof options.collect === 'string' ? [options.collect] : [...options.collect];
  const errors = mapFieldErrors({ ...def, ...fields });
  if (errors.length > 0) throw new ConfigError(errors.join('; '));
  return fields;
}

/** The problems of a node definition's map fields (validation of a flow or of a node added live). */
export function mapProblems(node: NodeDefinition): ValidationProblem[] {
  return mapFieldErrors(node).map((message) => ({ kind: 'invalid', nodes: [node.id], message }));
}

/** Whether input `name` of `node` collects the values of every source. */
export function isCollecting(node: NodeDefinition, name: string): boolean {
  return node.collect !== undefined && node.collect.includes(name);
}
