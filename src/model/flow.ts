/**
 * Flows: a set of nodes and the links between them. A definition, not a running thing.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { CONDITION_DEPTHS, type AnyCondition, type ConditionDepth } from './condition.js';
import type { FailurePolicy, FlowDefinition, LinkCondition, LinkDefinition, NodeDefinition, ScopeDefinition } from './definition.js';
import type { AnyNode } from './node.js';
import { linkInputs } from './graph.js';
import { checkName } from './names.js';
import { checkKeys, optionKeys } from './options.js';
import { SubflowNode, type ExpandedSubflow, type SubflowOptions } from './subflow.js';
import type { AnyTask, TaskInputs } from './task.js';

/** Anything a flow holds: a node, or another flow used as a node (a subflow). */
export type FlowMember = AnyNode | SubflowNode;

/** Options of {@link flow}. */
export interface FlowOptions {
  /**
   * What happens when a node fails after its last retry: `halt` keeps the run
   * failed but alive and fixable; `rollback` runs every completed task's
   * rollback in reverse order of completion (a saga).
   * @default "halt"
   */
  onFailure?: FailurePolicy;
}

/** Options of {@link Flow.link}. */
export interface LinkOptions {
  /**
   * Renames where names differ: listener input name → name the source provides.
   * @example { map: { address: 'kickServer' } }
   */
  map?: Record<string, string>;
  /**
   * A condition on the source's result: the listener runs only if it holds
   * (with several conditional links into one node: if any holds), and is
   * skipped, with the reason, when all are false. See docs/conditions.md.
   * @example { when: condition('approved', (score: number) => score >= 7) }
   */
  when?: AnyCondition;
  /**
   * With `when`: the source's provided value the condition tests.
   * @default the source's whole result
   */
  on?: string;
  /**
   * With `when`: how far a skip reaches, the listener alone (`node`) or every
   * node downstream of it (`downstream`).
   * @default "downstream"
   */
  depth?: ConditionDepth;
}

const FLOW_KEYS = optionKeys<FlowOptions>({ onFailure: true });
const LINK_KEYS = optionKeys<LinkOptions>({ map: true, when: true, on: true, depth: true });

/** A flow under construction. Create one with {@link flow}. */
export class Flow {
  private readonly members: FlowMember[] = [];
  private readonly included = new Set<FlowMember>();
  private readonly explicit: LinkDefinition[] = [];
  private readonly conditionsUsed = new Set<AnyCondition>();
  /** Failure policy. */
  readonly onFailure: FailurePolicy;

  /** @internal use {@link flow} */
  constructor(
    /** Flow name. */
    readonly name: string,
    options: FlowOptions = {},
  ) {
    checkName(name, 'flow name');
    checkKeys(options, FLOW_KEYS, `flow "${name}"`);
    const onFailure = options.onFailure ?? 'halt';
    if (onFailure !== 'halt' && onFailure !== 'rollback') {
      throw new ConfigError(`flow "${name}": onFailure expected "halt" or "rollback", got ${JSON.stringify(onFailure)}`);
    }
    this.onFailure = onFailure;
  }

  /** The nodes, in the order they were added. */
  get nodes(): readonly FlowMember[] {
    return this.members;
  }

  /**
   * Adds nodes whose links are inferred from matching names (as TaskFlow's graph
   * flow): a node listens to every other node that provides one of its required
   * or optional inputs, unless the input is bound or an explicit link feeds it.
   * Inferred and explicit links mix.
   */
  add(...nodes: FlowMember[]): this {
    for (const node of nodes) this.include(node);
    return this;
  }

  /**
   * `listener` listens to `source`: it runs after the source, and the source's
   * provided values feed its required inputs by name (renamed by `map`). A link
   * with no matching names is a pure ordering dependency.
   */
  link(source: FlowMember, listener: FlowMember, options: LinkOptions = {}): this {
    checkKeys(options, LINK_KEYS, `link "${source.id}" -> "${listener.id}"`);
    this.include(source);
    this.include(listener);
    const map = { ...(options.map ?? {}) };
    for (const [input, provided] of Object.entries(map)) {
      if (typeof provided !== 'string') {
        throw new ConfigError(`link "${source.id}" -> "${listener.id}": map.${input} expected a string, got ${typeof provided}`);
      }
    }
    const condition = this.linkCondition(`link "${source.id}" -> "${listener.id}"`, options);
    this.explicit.push(condition === undefined ? { from: source.id, to: listener.id, map, inferred: false } : { from: source.id, to: listener.id, map, inferred: false, condition });
    return this;
  }

  /** The condition of a link's options as data, its predicate remembered for {@link Flow.conditions}. */
  private linkCondition(what: string, options: LinkOptions): LinkCondition | undefined {
    if (options.when === undefined) {
      if (options.on !== undefined || options.depth !== undefined) throw new ConfigError(`${what}: on and depth are options of a condition; give when too`);
      return undefined;
    }
    const when = options.when;
    if (typeof when?.test !== 'function') throw new ConfigError(`${what}: when expected a condition (made by condition(name, test)), got ${when === null ? 'null' : typeof when}`);
    const depth = options.depth ?? 'downstream';
    if (!(CONDITION_DEPTHS as readonly unknown[]).includes(depth)) throw new ConfigError(`${what}: depth expected "node" or "downstream", got ${JSON.stringify(depth)}`);
    this.conditionsUsed.add(when);
    const condition: LinkCondition = { name: when.name, depth };
    if (options.on !== undefined) condition.on = checkName(options.on, `${what}: on`);
    return condition;
  }

  /**
   * Every condition the flow's links use (its subflows' too), to register them
   * in the coordinator. Throws a `ConfigError` when two different conditions share a name.
   */
  conditions(): AnyCondition[] {
    const byName = new Map<string, AnyCondition>();
    const all = [...this.conditionsUsed, ...this.members.flatMap((member) => (member.kind === 'subflow' ? member.flow.conditions() : []))];
    for (const condition of all) {
      const known = byName.get(condition.name);
      if (known !== undefined && known !== condition) throw new ConfigError(`flow "${this.name}": two different conditions are named "${condition.name}"; condition names must be unique`);
      byName.set(condition.name, condition);
    }
    return [...byName.values()];
  }

  /**
   * Every task the flow uses, by name (to register them in an embedded runtime).
   * Throws a `ConfigError` when two different tasks share a name: only the name
   * travels, so one of them would silently run the other's code.
   */
  tasks(): AnyTask[] {
    const byName = new Map<string, AnyTask>();
    for (const member of this.members) {
      const tasks = member.kind === 'subflow' ? member.flow.tasks() : member.kind === 'task' ? [member.task] : [];
      for (const task of tasks) {
        const known = byName.get(task.name);
        if (known !== undefined && known !== task) {
          throw new ConfigError(`flow "${this.name}": two different tasks are named "${task.name}" (${member.kind} "${member.id}"); task names must be unique`);
        }
        byName.set(task.name, task);
      }
    }
    return [...byName.values()];
  }

  /**
   * This flow as a node of another flow (a subflow): `inputs` are bound for its
   * nodes (its flow inputs), the values of its sources feed its nodes by name,
   * and what its nodes provide feeds its listeners. Its nodes join the run with
   * ids prefixed by the subflow's id and "/" (`payment/charge`); a node of it
   * that fails for good is handled by this flow's `onFailure` (scoped to its
   * nodes), then by `retry`, then passed on to the enclosing flow. See docs/subflows.md.
   */
  s(inputs: TaskInputs = {}, options: SubflowOptions = {}): SubflowNode {
    return new SubflowNode(this, inputs, options);
  }

  /** The flow as plain JSON, with inferred links added and subflows flattened into nodes. */
  definition(): FlowDefinition {
    const expanded = new Map<string, ExpandedSubflow>();
    const level = this.members.map((member) => {
      if (member.kind !== 'subflow') return member.definition();
      const subflow = member.expand();
      expanded.set(member.id, subflow);
      return subflow.facade();
    });
    const links = [...this.explicit, ...inferLinks(level, this.explicit)];
    if (expanded.size === 0) return { name: this.name, nodes: level, links, onFailure: this.onFailure };
    return flatten(this, level, links, expanded);
  }

  /** Same as {@link Flow.definition}, so `JSON.stringify(flow)` gives the definition. */
  toJSON(): FlowDefinition {
    return this.definition();
  }

  private include(node: FlowMember): void {
    if (this.included.has(node)) return;
    this.included.add(node);
    this.members.push(node);
  }
}

/** A flow definition with its subflows' nodes, links and scopes in place of the subflow nodes. */
function flatten(flow: Flow, level: readonly NodeDefinition[], links: readonly LinkDefinition[], expanded: ReadonlyMap<string, ExpandedSubflow>): FlowDefinition {
  const nodes: NodeDefinition[] = [];
  const flat: LinkDefinition[] = [];
  const scopes: ScopeDefinition[] = [];
  for (const def of level) {
    const subflow = expanded.get(def.id);
    if (subflow === undefined) nodes.push(def);
    else {
      nodes.push(...subflow.nodes);
      flat.push(...subflow.links);
      scopes.push(...subflow.scopes);
    }
  }
  const byId = new Map(level.map((def) => [def.id, def]));
  for (const link of links) {
    const source = byId.get(link.from) as NodeDefinition;
    const listener = byId.get(link.to) as NodeDefinition;
    const froms = expanded.get(link.from)?.exits(listener, link) ?? [source];
    const tos = expanded.get(link.to)?.entries(source, link) ?? [listener];
    for (const from of froms) for (const to of tos) flat.push({ ...link, from: from.id, to: to.id });
  }
  return { name: flow.name, nodes, links: flat, onFailure: flow.onFailure, scopes };
}

/**
 * Links inferred from names: a required or optional input that is not bound and
 * that no explicit source provides is linked from every other node that declares
 * it in `provides` (several providers are then reported by validation). An
 * optional input is inferred like a required one, so its consumer waits for the
 * provider instead of running beside it without the value.
 */
function inferLinks(nodes: readonly NodeDefinition[], explicit: readonly LinkDefinition[]): LinkDefinition[] {
  const providers = new Map<string, string[]>();
  for (const node of nodes) {
    for (const name of node.provides ?? []) {
      const list = providers.get(name);
      if (list === undefined) providers.set(name, [node.id]);
      else list.push(node.id);
    }
  }
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const incoming = new Map<string, LinkDefinition[]>();
  for (const link of explicit) {
    const list = incoming.get(link.to);
    if (list === undefined) incoming.set(link.to, [link]);
    else list.push(link);
  }
  const inferred: LinkDefinition[] = [];
  for (const node of nodes) {
    const links = incoming.get(node.id) ?? [];
    const fed = fedInputs(links, byId);
    const sources = new Set(links.map((link) => link.from));
    for (const input of [...node.requires, ...node.optional]) {
      if (Object.hasOwn(node.bound, input) || fed.has(input)) continue;
      for (const from of providers.get(input) ?? []) {
        if (from === node.id || sources.has(from)) continue;
        sources.add(from);
        inferred.push({ from, to: node.id, map: {}, inferred: true });
      }
    }
  }
  return inferred;
}

/** The input names that explicit links feed (by name, or renamed by a map), from sources with declared provides. */
function fedInputs(links: readonly LinkDefinition[], byId: ReadonlyMap<string, NodeDefinition>): Set<string> {
  const fed = new Set<string>();
  for (const link of links) {
    const source = byId.get(link.from);
    for (const input of (source === undefined ? undefined : linkInputs(source, link)) ?? []) fed.add(input);
  }
  return fed;
}

/**
 * Creates a flow.
 *
 * @example
 * const flo = flow('My-distributed-flow');
 * flo.link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 }));
 */
export function flow(name: string, options?: FlowOptions): Flow {
  return new Flow(name, options);
}
