/**
 * Validation: optional pre-processing of a flow (on by default at start) and the
 * checks applied to every change of a running flow.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { ValidationError, type ValidationProblem } from '../errors.js';
import type { FlowDefinition, LinkDefinition, NodeDefinition } from './definition.js';
import { findCycle, linkInputs, successorIndex } from './graph.js';
import { isCollecting, mapProblems } from './map.js';

/** What validation may know besides the graph. */
export interface ValidateOptions {
  /** Flow inputs given at start: they satisfy required inputs. */
  inputs?: JsonObject;
  /** Whether a task name is registered; unknown tasks are problems. Left out: not checked. */
  isKnownTask?: (name: string) => boolean;
  /** Whether a condition name is registered; a link naming an unknown one is a problem. Left out: not checked. */
  isKnownCondition?: (name: string) => boolean;
}

/**
 * Problems of one node's inputs given its incoming links: required inputs that
 * nothing provides, and inputs that two sources provide.
 */
export function inputProblems(
  node: NodeDefinition,
  incoming: readonly LinkDefinition[],
  lookup: (id: string) => NodeDefinition | undefined,
  inputs: JsonObject,
): ValidationProblem[] {
  const problems: ValidationProblem[] = node.each === undefined && node.concurrency === undefined && node.collect === undefined ? [] : mapProblems(node);
  if (node.kind === 'event') return problems;
  // Who feeds which input, in one pass over the links (a fan-in has many); made
  // only for a node that has links (a start validates every node of the flow).
  let feeders: Map<string, Set<string>> | undefined;
  let open = false;
  for (const link of incoming) {
    const source = lookup(link.from);
    if (source === undefined) continue;
    const fed = linkInputs(source, link);
    if (fed === undefined) open = true;
    for (const input of fed ?? []) {
      const set = (feeders ??= new Map()).get(input);
      if (set === undefined) feeders.set(input, new Set([source.id]));
      else set.add(source.id);
    }
  }
  for (const input of node.requires) checkInput(node, input, true, feeders?.get(input), open, inputs, problems);
  for (const input of node.optional) checkInput(node, input, false, feeders?.get(input), open, inputs, problems);
  return problems;
}

/** Appends the problems of one input of a node: provided by several sources, or required and provided by nothing. */
function checkInput(
  node: NodeDefinition,
  input: string,
  required: boolean,
  fedBy: ReadonlySet<string> | undefined,
  open: boolean,
  inputs: JsonObject,
  problems: ValidationProblem[],
): void {
  if (Object.hasOwn(node.bound, input)) return;
  const count = fedBy?.size ?? 0;
  if (count > 1 && !isCollecting(node, input)) {
    const providers = [...(fedBy as ReadonlySet<string>)];
    problems.push({
      kind: 'duplicate-provider',
      nodes: [node.id, ...providers],
      message: `input "${input}" of node "${node.id}" is provided by several sources: ${providers.map((p) => `"${p}"`).join(', ')}`,
    });
  }
  if (required && count === 0 && !open && !Object.hasOwn(inputs, input)) {
    problems.push({
      kind: 'missing-input',
      nodes: [node.id],
      message: `required input "${input}" of node "${node.id}" is not provided by any source, bound value or flow input`,
    });
  }
}

/** Every problem of a flow definition, in a stable order; empty when valid. */
export function findProblems(definition: FlowDefinition, options: ValidateOptions = {}): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const byId = new Map<string, NodeDefinition>();
  for (const node of definition.nodes) {
    if (byId.has(node.id)) {
      problems.push({ kind: 'duplicate-node', nodes: [node.id], message: `node id "${node.id}" is used more than once` });
    } else {
      byId.set(node.id, node);
    }
    if (node.kind === 'task' && options.isKnownTask !== undefined && !options.isKnownTask(node.name)) {
      problems.push({ kind: 'unknown-task', nodes: [node.id], message: `node "${node.id}" uses unknown task "${node.name}"` });
    }
  }
  const incoming = new Map<string, LinkDefinition[]>();
  for (const link of definition.links) {
    for (const end of [link.from, link.to]) {
      if (!byId.has(end)) {
        problems.push({ kind: 'unknown-node', nodes: [end], message: `link "${link.from}" -> "${link.to}" names unknown node "${end}"` });
      }
    }
    if (byId.get(link.to)?.kind === 'event') {
      problems.push({ kind: 'invalid', nodes: [link.to], message: `event "${link.to}" cannot listen to "${link.from}": events are notified, not linked to` });
    }
    if (link.condition !== undefined) problems.push(...conditionProblems(link, byId, options));
    const list = incoming.get(link.to);
    if (list === undefined) incoming.set(link.to, [link]);
    else list.push(link);
  }
  const successors = successorIndex(definition.links);
  const cycle = findCycle(byId.keys(), (id) => successors.get(id) ?? []);
  if (cycle !== undefined) {
    problems.push({ kind: 'cycle', nodes: cycle, message: `cycle: ${cycle.map((id) => `"${id}"`).join(' -> ')}` });
  }
  const lookup = (id: string): NodeDefinition | undefined => byId.get(id);
  for (const node of byId.values()) {
    problems.push(...inputProblems(node, incoming.get(node.id) ?? [], lookup, options.inputs ?? {}));
  }
  return problems;
}

/**
 * Problems of a link's condition: a condition not registered, a value `on`
 * that the source does not provide, a persistent listener (conditions decide
 * a one-shot node only).
 */
export function conditionProblems(link: LinkDefinition, byId: ReadonlyMap<string, NodeDefinition>, options: Pick<ValidateOptions, 'isKnownCondition'>): ValidationProblem[] {
  const condition = link.condition;
  if (condition === undefined) return [];
  const problems: ValidationProblem[] = [];
  const what = `link "${link.from}" -> "${link.to}"`;
  if (options.isKnownCondition !== undefined && !options.isKnownCondition(condition.name)) {
    problems.push({ kind: 'unknown-condition', nodes: [link.from, link.to], message: `${what} names unknown condition "${condition.name}" (register it: connect({ conditions }) or tw.registerConditions())` });
  }
  const provides = byId.get(link.from)?.provides;
  if (condition.on !== undefined && provides !== undefined && !provides.includes(condition.on)) {
    problems.push({ kind: 'invalid', nodes: [link.from, link.to], message: `${what}: condition "${condition.name}" tests "${condition.on}", which "${link.from}" does not provide (it provides ${provides.map((p) => `"${p}"`).join(', ') || 'nothing'})` });
  }
  if (byId.get(link.to)?.persistent === true) {
    problems.push({ kind: 'invalid', nodes: [link.to], message: `${what}: persistent listener "${link.to}" cannot have a condition on its links (a condition decides whether a one-shot node runs)` });
  }
  return problems;
}

/** Throws a {@link ValidationError} listing every problem, if there is any. */
export function validateFlow(definition: FlowDefinition, options: ValidateOptions = {}): void {
  const problems = findProblems(definition, options);
  if (problems.length > 0) throw new ValidationError(problems, `flow "${definition.name}"`);
}
