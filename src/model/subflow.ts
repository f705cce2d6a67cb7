/**
 * Subflows: a flow used as a node of another (`payment.s(inputs, { id })`).
 * A run holds no subflow as such: {@link Flow.definition} flattens it into
 * nodes of the enclosing flow, ids prefixed with the subflow's id and "/"
 * (`payment/charge`), each marked with its scope; links to and from the
 * subflow node become links to the subflow's entry nodes and from its exit
 * nodes. The scope ({@link ScopeDefinition}) carries the subflow's own failure
 * policy and its retry budget to the engine.
 *
 * @packageDocumentation
 */
import type { AnyCondition } from './condition.js';
import { encodeValue } from '../codec/value.js';
import { ConfigError } from '../errors.js';
import type { JsonObject } from '../codec/json.js';
import type { FlowDefinition, LinkDefinition, NodeDefinition, ScopeDefinition } from './definition.js';
import { linkInputs, sourceName } from './graph.js';
import { checkInputNames, checkName, checkNames, checkNodeId } from './names.js';
import { checkKeys, optionKeys } from './options.js';
import type { AnyTask, TaskInputs } from './task.js';

/** Options of `flow.s(inputs, options)`. */
export interface SubflowOptions {
  /**
   * The subflow node's id in the enclosing flow, and the prefix of its nodes' ids.
   * @default the subflow's flow name
   */
  id?: string;
  /**
   * Times the whole subflow runs again when it fails (TaskFlow's `Times`):
   * its completed nodes are compensated (their rollbacks, latest first), then
   * every node of it runs again. Its failure passes on once they are used up.
   * @default 0
   */
  retry?: number;
  /**
   * The names the subflow provides to its listeners in the enclosing flow.
   * @default every name one of its nodes provides
   */
  provides?: readonly string[];
}

const SUBFLOW_KEYS = optionKeys<SubflowOptions>({ id: true, retry: true, provides: true });

/** What a subflow node needs of the flow it is used in: its definition (already flattened) and its name. */
export interface SubflowSource {
  /** Flow name. */
  readonly name: string;
  /** The flow as plain JSON, its own subflows flattened. */
  definition(): FlowDefinition;
  /** Every task the flow uses (its subflows' too). */
  tasks(): AnyTask[];
  /** Every condition the flow's links use (its subflows' too). */
  conditions(): AnyCondition[];
}

/** A flow used as a node of another flow. Create one with `flow.s(inputs, options)`. */
export class SubflowNode {
  /** Always `subflow`. */
  readonly kind = 'subflow' as const;
  /** Node id in the enclosing flow: the prefix of the subflow's node ids. */
  readonly id: string;
  /** Inputs bound for the subflow's nodes (its flow inputs), already encoded as JSON. */
  readonly bound: JsonObject;
  /** Scope retries. */
  readonly retry: number;
  /** Declared provided names, or undefined for every name its nodes provide. */
  readonly provides: readonly string[] | undefined;

  /** @internal use `flow.s()` */
  constructor(
    /** The flow used as a node. */
    readonly flow: SubflowSource,
    bound: TaskInputs,
    options: SubflowOptions,
  ) {
    this.id = checkName(options.id ?? flow.name, `subflow "${flow.name}": id`);
    checkKeys(options, SUBFLOW_KEYS, `subflow "${this.id}"`);
    this.bound = checkInputNames(encodeValue(bound, `the bound inputs of subflow "${this.id}"`) as JsonObject, `subflow "${this.id}": bound`);
    const retry = options.retry ?? 0;
    if (!Number.isInteger(retry) || retry < 0) throw new ConfigError(`subflow "${this.id}": retry expected an integer from 0 and up, got ${String(retry)}`);
    this.retry = retry;
    this.provides = options.provides === undefined ? undefined : checkNames(options.provides, `subflow "${this.id}": provides`);
  }

  /** The subflow's nodes, links and scopes, ids prefixed, ready to join the enclosing flow's. */
  expand(): ExpandedSubflow {
    const inner = this.flow.definition();
    const prefix = `${this.id}/`;
    const nodes = inner.nodes.map((def) => {
      const node: NodeDefinition = { ...def, id: checkNodeId(prefix + def.id, `node "${def.id}" of subflow "${this.id}": id`), bound: boundFor(def, this.bound) };
      node.scope = def.scope === undefined ? this.id : prefix + def.scope;
      return node;
    });
    const links = inner.links.map((link) => ({ ...link, from: prefix + link.from, to: prefix + link.to }));
    const scopes: ScopeDefinition[] = [{ id: this.id, onFailure: inner.onFailure, retry: this.retry }];
    for (const scope of inner.scopes ?? []) scopes.push({ ...scope, id: prefix + scope.id });
    return new ExpandedSubflow(this, nodes, links, scopes);
  }
}

/** The subflow's bound inputs a node takes (those it declares and does not bind itself). */
function boundFor(def: NodeDefinition, bound: JsonObject): JsonObject {
  let merged: JsonObject | undefined;
  for (const name of [...def.requires, ...def.optional]) {
    if (!Object.hasOwn(bound, name) || Object.hasOwn(def.bound, name)) continue;
    merged ??= { ...def.bound };
    merged[name] = bound[name] as JsonObject[string];
  }
  return merged ?? def.bound;
}

/** A subflow flattened: its nodes and links, and where links of the enclosing flow enter and leave it. */
export class ExpandedSubflow {
  private readonly open = new Map<string, Set<string>>();
  private readonly roots = new Set<string>();
  private readonly leaves = new Set<string>();

  constructor(
    /** The subflow node. */
    readonly node: SubflowNode,
    /** Its nodes, ids prefixed. */
    readonly nodes: NodeDefinition[],
    /** Its inner links. */
    readonly links: LinkDefinition[],
    /** Its scope, then the scopes of the subflows inside it. */
    readonly scopes: ScopeDefinition[],
  ) {
    const byId = new Map(nodes.map((def) => [def.id, def]));
    const fed = new Map<string, Set<string>>();
    const hasSources = new Set<string>();
    const hasListeners = new Set<string>();
    for (const link of links) {
      hasSources.add(link.to);
      hasListeners.add(link.from);
      const source = byId.get(link.from);
      const inputs = source === undefined ? undefined : linkInputs(source, link);
      const set = fed.get(link.to) ?? new Set<string>();
      for (const input of inputs ?? []) set.add(input);
      fed.set(link.to, set);
    }
    for (const def of nodes) {
      const open = new Set([...def.requires, ...def.optional].filter((name) => !Object.hasOwn(def.bound, name) && !(fed.get(def.id)?.has(name) ?? false)));
      this.open.set(def.id, open);
    }
    for (const def of nodes) {
      if (!hasSources.has(def.id)) this.roots.add(def.id);
      if (!hasListeners.has(def.id)) this.leaves.add(def.id);
    }
  }

  /**
   * The subflow as one node of the enclosing flow, for link inference there:
   * it requires its nodes' open inputs (bound nowhere, fed by no inner link)
   * and provides what they provide (or its declared `provides`).
   */
  facade(): NodeDefinition {
    const requires = new Set<string>();
    for (const open of this.open.values()) for (const name of open) requires.add(name);
    const provides = this.node.provides ?? [...new Set(this.nodes.flatMap((def) => def.provides ?? []))];
    const first = this.nodes[0];
    if (first === undefined) throw new ConfigError(`subflow "${this.node.id}": its flow "${this.node.flow.name}" has no nodes`);
    return { ...first, id: this.node.id, name: this.node.flow.name, bound: {}, requires: [...requires], optional: [], provides: [...provides], persistent: false, rollback: false };
  }

  /**
   * The inner nodes a link into the subflow reaches: its roots (for order),
   * and every node with an open input the source provides.
   */
  entries(source: NodeDefinition, link: LinkDefinition): NodeDefinition[] {
    const provided = new Set(linkInputs(source, link) ?? []);
    return this.nodes.filter((def) => this.roots.has(def.id) || [...(this.open.get(def.id) ?? [])].some((name) => provided.has(name)));
  }

  /**
   * The inner nodes a link out of the subflow leaves from: its leaves (for
   * order), and every node that provides an input the listener needs (among
   * the subflow's declared provides).
   */
  exits(listener: NodeDefinition, link: LinkDefinition): NodeDefinition[] {
    const offered = this.node.provides;
    const needed = [...listener.requires, ...listener.optional].map((input) => sourceName(link, input)).filter((name) => offered === undefined || offered.includes(name));
    return this.nodes.filter((def) => this.leaves.has(def.id) || (def.provides ?? []).some((name) => needed.includes(name)));
  }
}
