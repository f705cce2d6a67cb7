/**
 * The changes a client gives to a run (`run.change(...)` and the `run.add`,
 * `run.link`, ... shortcuts), and their translation into the engine's plain
 * data: node objects become ids, nodes to add become definitions of known
 * tasks, values are encoded.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { encodeValue } from '../codec/value.js';
import type { Change, LinkSpec } from '../engine/events.js';
import type { AnyCondition, ConditionDepth } from '../model/condition.js';
import type { LinkCondition, NodeDefinition } from '../model/definition.js';
import { parseChildName } from '../model/map.js';
import type { AnyNode, TaskNode } from '../model/node.js';
import { nodeDefinitionOf, type RuntimeParts, type TaskRef } from './parts.js';

/** A node of the run: its id, or the node object itself (as in `flow.link` and `run.result`). */
export type NodeRef = string | { readonly id: string };

/** A source or listener given to `add`: a node, or a node with a rename map (listener input name → source provided name). */
export type LinkTarget = NodeRef | { node: NodeRef; map?: Record<string, string> };

/** What `replace` takes: a task node or task reference (a new task), or definition fields to change. */
export type Replacement = TaskNode | TaskRef | Partial<Omit<NodeDefinition, 'id' | 'kind'>>;

/**
 * One change to a run, as given to {@link RunHandle.change}. The same fields as
 * the `change` entries of the history (so a change can be written as JSON, as
 * the CLI's `change` command takes it), with node objects accepted wherever a
 * node id is.
 */
export type RunChange =
  | { op: 'add'; node: AnyNode | NodeDefinition | TaskRef; sources?: LinkTarget[]; listeners?: LinkTarget[] }
  | { op: 'remove'; node: NodeRef }
  | { op: 'link'; from: NodeRef; to: NodeRef; map?: Record<string, string> }
  | { op: 'unlink'; from: NodeRef; to: NodeRef }
  | { op: 'relink'; node: NodeRef; from: NodeRef; to: NodeRef; map?: Record<string, string> }
  | { op: 'replace'; node: NodeRef; with: Replacement }
  | { op: 'retry'; node: NodeRef; activation?: number }
  | { op: 'skip'; node: NodeRef; result?: unknown }
  | { op: 'condition'; from: NodeRef; to: NodeRef; condition: AnyCondition | LinkCondition | null; on?: string; depth?: ConditionDepth }
  | { op: 'cancel' }
  | { op: 'stop' };

/**
 * The id of a node reference. Anything else (a raw change from outside the
 * typed API) is passed on as it is, for the change decoder to refuse with a code.
 */
export const idOf = (node: NodeRef): string => (typeof node === 'object' && node !== null ? node.id : node);

function linkSpec(target: LinkTarget): LinkSpec {
  if (typeof target !== 'object' || target === null || !('node' in target)) return { node: idOf(target) };
  return target.map === undefined ? { node: idOf(target.node) } : { node: idOf(target.node), map: { ...target.map } };
}

const withMap = <C extends object>(change: C, map: Record<string, string> | undefined): C => (map === undefined ? change : { ...change, map: { ...map } });

/**
 * The definition fields a replacement changes. A task node or reference brings
 * a whole definition; its `persistent` flag is kept only when it asks for a
 * persistent node (a replacement takes the node's place, persistent or not,
 * and the engine refuses to change that).
 */
async function replacementFields(node: string, replacement: Replacement, parts: RuntimeParts): Promise<Partial<Omit<NodeDefinition, 'id' | 'kind'>>> {
  // Duck typing: a flow file loaded through tsx may carry its own copy of TaskNode.
  const named = 'definition' in replacement || typeof (replacement as TaskRef).task === 'string';
  if (!named) {
    const fields = replacement as Partial<NodeDefinition>;
    const { id: _id, kind: _kind, ...rest } = fields;
    return fields.bound === undefined ? rest : { ...rest, bound: encodeValue(fields.bound, `the bound inputs given to replace node "${node}"`) as JsonObject };
  }
  const { id: _id, kind: _kind, persistent, ...rest } = await nodeDefinitionOf(replacement as TaskNode | TaskRef, parts);
  return persistent ? { ...rest, persistent } : rest;
}

/**
 * The condition a `condition` change sets, as data: a condition object is
 * registered in this process (for its coordinator) and named; `on` and
 * `depth` given beside it win over those of a {@link LinkCondition}.
 */
function linkCondition(change: Extract<RunChange, { op: 'condition' }>, parts: RuntimeParts): LinkCondition | null {
  const given = change.condition;
  if (given === null) return null;
  if (typeof (given as AnyCondition).test === 'function') parts.conditions.register(given as AnyCondition);
  const named = given as Partial<LinkCondition>;
  const on = change.on ?? named.on;
  const condition: LinkCondition = { name: given.name, depth: change.depth ?? named.depth ?? 'downstream' };
  if (on !== undefined) condition.on = on;
  return condition;
}

/** Translates a client change into the engine's change. Rejects (never throws) on unknown tasks and unencodable values. */
export async function engineChange(change: RunChange, parts: RuntimeParts): Promise<Change> {
  switch (change.op) {
    case 'add':
      return {
        op: 'add',
        node: await nodeDefinitionOf(change.node, parts),
        sources: (change.sources ?? []).map(linkSpec),
        listeners: (change.listeners ?? []).map(linkSpec),
      };
    case 'remove':
      return { op: 'remove', node: idOf(change.node) };
    case 'link':
      return withMap({ op: 'link', from: idOf(change.from), to: idOf(change.to) }, change.map);
    case 'unlink':
      return { op: 'unlink', from: idOf(change.from), to: idOf(change.to) };
    case 'relink':
      return withMap({ op: 'relink', node: idOf(change.node), from: idOf(change.from), to: idOf(change.to) }, change.map);
    case 'replace': {
      const node = idOf(change.node);
      return { op: 'replace', node, with: await replacementFields(node, change.with, parts) };
    }
    case 'retry': {
      // A map node's child is named `node[i]`: its activation i.
      const child = change.activation === undefined ? parseChildName(idOf(change.node)) : undefined;
      if (child !== undefined) return { op: 'retry', node: child.node, activation: child.index };
      return change.activation === undefined ? { op: 'retry', node: idOf(change.node) } : { op: 'retry', node: idOf(change.node), activation: change.activation };
    }
    case 'skip': {
      const node = idOf(change.node);
      return { op: 'skip', node, result: encodeValue(change.result, `the value given to skip node "${node}"`) };
    }
    case 'condition':
      return { op: 'condition', from: idOf(change.from), to: idOf(change.to), condition: linkCondition(change, parts) };
    case 'cancel':
    case 'stop':
      return { op: change.op };
  }
}
