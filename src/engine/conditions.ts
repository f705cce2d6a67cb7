/**
 * Conditional links: whether a node whose sources have all notified runs, is
 * skipped, or fails because a condition could not decide. The rules (see
 * docs/conditions.md):
 *
 * - A node with conditional incoming links runs if any of them holds; it is
 *   skipped when all are false (a link from a source skipped by conditions
 *   counts as false). Its other sources must have notified and its inputs
 *   resolve, as for any node.
 * - A node skipped by conditions takes others with it according to its depth:
 *   `downstream` skips every node listening to it, directly or not;
 *   `node` skips only itself, and a listener then runs if its inputs resolve
 *   without it (else it is skipped too: it can no longer run).
 * - A condition is evaluated in the coordinator, when the listener's sources
 *   have all notified, on the source's recorded result (so it is evaluated
 *   again, to the same answer, after a restart or a live change): nothing of
 *   it is stored but the decision, in the history.
 * - A condition that throws, returns something other than a boolean, or is not
 *   registered fails the listener for good (`TW_CONDITION`); a `retry` change
 *   evaluates it again.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { decodeValue } from '../codec/value.js';
import { ConditionError, InvalidChangeError, ValidationError } from '../errors.js';
import type { ConditionDepth } from '../model/condition.js';
import type { LinkDefinition } from '../model/definition.js';
import { failure } from '../model/failure.js';
import { node as nodeOf, setSources, type Edit, type Effect } from './edit.js';
import type { Change } from './events.js';
import { providedValue } from './inputs.js';
import { failInScope } from './scopes.js';
import type { NodeState, SkipReason } from './state.js';
import type { StepContext } from './step-context.js';

/**
 * Whether the run has anything that conditions decide: a conditional link, or
 * a skipped node (a skip by conditions reaches its listeners). Runs without
 * any pay nothing more per node.
 */
export function hasConditions(s: StepContext): boolean {
  return s.live.index.conditional > 0 || s.live.index.counts.skipped > 0;
}

/**
 * Decides a waiting node whose sources have all notified: true when it may
 * run (its inputs are resolved next); false when it was skipped or failed here.
 */
export function decide(s: StepContext, node: NodeState): boolean {
  const run = s.run;
  let conditional = false;
  for (const link of node.sources) {
    const source = run.nodes.get(link.from);
    if (link.condition !== undefined) conditional = true;
    else if (source?.skip?.depth === 'downstream') {
      skipNode(s, node, { reason: 'upstream', depth: 'downstream', from: source.def.id });
      return false;
    }
  }
  if (!conditional) return true;
  let depth: ConditionDepth = 'node';
  const falseLinks: NonNullable<SkipReason['links']> = [];
  for (const link of node.sources) {
    const source = run.nodes.get(link.from);
    if (link.condition === undefined || source === undefined) continue;
    if (source.skip !== undefined) {
      falseLinks.push({ from: link.from, condition: link.condition.name, skipped: true });
    } else {
      const holds = evaluate(s, node, link, source);
      if (holds === undefined) return false; // it failed the node
      if (holds) return true;
      falseLinks.push({ from: link.from, condition: link.condition.name });
    }
    if (link.condition.depth === 'downstream') depth = 'downstream';
  }
  skipNode(s, node, { reason: 'condition', depth, links: falseLinks });
  return false;
}

/**
 * A node that may run but whose required inputs do not resolve: when one of
 * its sources was skipped by conditions (the input would have come from it),
 * it can no longer run and is skipped too. Returns whether it was.
 */
export function skipUnfed(s: StepContext, node: NodeState): boolean {
  for (const link of node.sources) {
    const source = s.run.nodes.get(link.from);
    if (source?.skip === undefined) continue;
    skipNode(s, node, { reason: 'inputs', depth: 'node', from: source.def.id });
    return true;
  }
  return false;
}

/** The condition of `link` on `source`'s result: a boolean, or undefined when it could not decide (the node failed). */
function evaluate(s: StepContext, node: NodeState, link: LinkDefinition, source: NodeState): boolean | undefined {
  const condition = link.condition as NonNullable<LinkDefinition['condition']>;
  const fail = (reason: string): undefined => {
    conditionFailed(s, node, new ConditionError(condition.name, link.from, link.to, s.run.id, reason));
    return undefined;
  };
  const registered = s.conditions.get(condition.name);
  if (registered === undefined) return fail('is not registered in this coordinator (connect({ conditions }) or tw.registerConditions())');
  const encoded = condition.on === undefined ? source.result : providedValue(source, condition.on);
  let answer: unknown;
  try {
    answer = registered.test(encoded === undefined ? undefined : decodeValue(encoded), { runId: s.run.id, from: link.from, to: link.to });
  } catch (error) {
    return fail(`threw: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
  if (typeof answer !== 'boolean') return fail(`returned ${answer instanceof Promise ? 'a Promise' : typeof answer}, expected a boolean (conditions are synchronous)`);
  return answer;
}

/** Fails a waiting node whose condition could not decide: for good, as a failed task (its policy applies), nothing to roll back. */
function conditionFailed(s: StepContext, node: NodeState, error: ConditionError): void {
  s.setStatus(node, 'failed');
  node.error = failure(error.name, error.message, error.code);
  node.finishedAt = s.now;
  s.record({ type: 'node.failed', node: node.def.id, detail: { name: error.name, message: error.message, code: error.code, condition: error.condition, from: error.from } });
  failInScope(s, node);
}

/**
 * Skips a node by conditions, with the reason in its `node.skipped` entry,
 * then decides its listeners. Iterative: a long chain of skips does not grow
 * the stack (a skip found while listeners are decided is queued).
 */
function skipNode(s: StepContext, node: NodeState, reason: SkipReason): void {
  s.setStatus(node, 'skipped');
  node.skip = reason;
  node.finishedAt = s.now;
  s.record({ type: 'node.skipped', node: node.def.id, detail: reason as unknown as JsonObject });
  if (s.skipped !== undefined) {
    s.skipped.push(node);
    return;
  }
  const queue = (s.skipped = [node]);
  try {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      for (const link of s.live.index.outgoing.get(next.def.id) ?? []) {
        const listener = s.run.nodes.get(link.to);
        if (listener !== undefined && !listener.def.persistent) s.tryStart(listener);
      }
    }
  } finally {
    s.skipped = undefined;
  }
}

/**
 * Sets or removes a link's condition (change `condition`). Only while the
 * listener has not been decided: waiting, or failed or cancelled (a retry
 * decides it again); a condition must be registered in the coordinator.
 */
export function setCondition(e: Edit, change: Extract<Change, { op: 'condition' }>): Effect {
  const s = e.s;
  const target = nodeOf(s, change.to);
  const old = target.sources.find((l) => l.from === change.from);
  if (old === undefined) throw new InvalidChangeError(`node "${target.def.id}" does not listen to "${change.from}" in run "${s.run.id}"`);
  if (!['waiting', 'failed', 'cancelled'].includes(target.status)) {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: the conditions of its links were decided already`);
  }
  if (target.def.persistent) throw new InvalidChangeError(`persistent listener "${target.def.id}" cannot have a condition on its links`);
  const link: LinkDefinition = { from: old.from, to: old.to, map: old.map, inferred: old.inferred };
  if (change.condition !== null) {
    if (s.conditions.get(change.condition.name) === undefined) {
      const what = `link "${old.from}" -> "${old.to}"`;
      throw new ValidationError([{ kind: 'unknown-condition', nodes: [old.from, old.to], message: `${what} names unknown condition "${change.condition.name}" (not registered in the coordinator)` }], `change to run "${s.run.id}"`);
    }
    link.condition = { ...change.condition };
  }
  setSources(e, target, target.sources.map((l) => (l === old ? link : l)));
  return () => {
    if (s.run.nodes.get(target.def.id) === target) s.tryStart(target);
  };
}
