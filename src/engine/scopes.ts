/**
 * Subflow scopes: a node of a subflow that fails for good is handled by its
 * scope first. A scope with policy `rollback`, or with scope retries left,
 * compensates its completed nodes (once nothing of it runs: one rollback at a
 * time, latest completion first); then it runs again from its entry nodes
 * (`scope.retrying`, its nodes back to waiting), or it fails as one node of the
 * enclosing scope (`scope.failed`), up to the run's own policy. A scope with
 * policy `halt` and no retries left passes the failure on at once.
 *
 * @packageDocumentation
 */
import { startSaga, owesActivation, owesNode, startUndo } from './saga.js';
import type { ActivationState, NodeState, ScopeState } from './state.js';
import { SCOPE_RETRY_TRANSITIONS } from './transitions.js';
import type { StepContext } from './step-context.js';

/** Whether a node belongs to scope `scope` (directly or through a nested one). */
function within(node: NodeState, scope: string): boolean {
  const own = node.def.scope;
  return own !== undefined && (own === scope || (own.length > scope.length && own.startsWith(scope) && own.charCodeAt(scope.length) === 47)); // "/"
}

/** The scope enclosing `scope`, or undefined for a top-level one. */
function enclosing(scope: string): string | undefined {
  const at = scope.lastIndexOf('/');
  return at < 0 ? undefined : scope.slice(0, at);
}

/** Whether a node's scope, or one enclosing it, is compensating: it must not start new work. */
export function inCompensatingScope(s: StepContext, node: NodeState): boolean {
  const scopes = s.run.scopes;
  if (scopes === undefined || node.def.scope === undefined) return false;
  for (let scope: string | undefined = node.def.scope; scope !== undefined; scope = enclosing(scope)) {
    if (scopes[scope]?.compensating === true) return true;
  }
  return false;
}

/**
 * A node failed for good (after its own rollback started): its scopes handle
 * it, innermost first; what none of them takes goes to the run's policy.
 */
export function failInScope(s: StepContext, node: NodeState): void {
  escalate(s, node.def.scope, node.def.id);
}

function escalate(s: StepContext, from: string | undefined, failed: string): void {
  const run = s.run;
  for (let id = from; id !== undefined; id = enclosing(id)) {
    const scope = run.scopes?.[id];
    if (scope === undefined) break;
    if (scope.onFailure === 'rollback' || scope.attempt < scope.retry) {
      setScope(s, id, { ...scope, compensating: true });
      return; // continueScopes compensates it, then retries it or passes the failure on
    }
    s.record({ type: 'scope.failed', node: id, attempt: scope.attempt + 1, detail: { node: failed } });
  }
  if (run.onFailure === 'rollback') startSaga(s);
}

/**
 * Moves every compensating scope on: once nothing of it runs, one more
 * compensation; once none is owed, its retry or its failure. Called after
 * every step, before the run's saga.
 */
export function continueScopes(s: StepContext): void {
  // Again while a pass changes some scope: a scope that fails may set the one enclosing it compensating.
  for (let scopes = s.run.scopes; scopes !== undefined && !s.run.cancelled && !s.run.saga; ) {
    for (const [id, scope] of Object.entries(scopes)) if (scope.compensating === true) continueScope(s, id, scope);
    if (s.run.scopes === scopes) return;
    scopes = s.run.scopes;
  }
}

function continueScope(s: StepContext, id: string, scope: ScopeState): void {
  const members: NodeState[] = [];
  for (const node of s.run.nodes.values()) if (within(node, id)) members.push(node);
  if (members.some((node) => node.status === 'running' || node.undo === 'running')) return;
  for (const node of members) {
    if (node.status !== 'retrying') continue;
    s.setStatus(node, 'cancelled');
    s.record({ type: 'node.cancelled', node: node.def.id });
  }
  // The latest completion owed: a node, or an activation of one (a map node's children).
  let latest: { node: NodeState; activation?: ActivationState; doneSeq: number } | undefined;
  for (const node of members) if (owesNode(node) && (latest === undefined || (node.doneSeq ?? 0) > latest.doneSeq)) latest = { node, doneSeq: node.doneSeq ?? 0 };
  if (s.run.activations.size > 0) {
    const byId = new Map(members.map((node) => [node.def.id, node]));
    for (const activation of s.run.activations.values()) {
      const node = byId.get(activation.node);
      if (node === undefined) continue;
      if (activation.undo === 'running') return;
      if (owesActivation(activation) && (latest === undefined || (activation.doneSeq ?? 0) > latest.doneSeq)) latest = { node, activation, doneSeq: activation.doneSeq ?? 0 };
    }
  }
  if (latest !== undefined) return startUndo(s, latest.node, latest.activation);
  const settled: ScopeState = { onFailure: scope.onFailure, retry: scope.retry, attempt: scope.attempt };
  setScope(s, id, settled);
  const failed = members.find((node) => node.status === 'failed')?.def.id ?? id;
  if (scope.attempt < scope.retry) return retryScope(s, id, settled, members);
  s.record({ type: 'scope.failed', node: id, attempt: scope.attempt + 1, detail: { node: failed, compensated: true } });
  escalate(s, enclosing(id), failed);
}

/** Runs a scope again: every node of it back to waiting (its retry budget afresh), then its entry nodes start. */
function retryScope(s: StepContext, id: string, scope: ScopeState, members: readonly NodeState[]): void {
  setScope(s, id, { ...scope, attempt: scope.attempt + 1 });
  s.record({ type: 'scope.retrying', node: id, attempt: scope.attempt + 2 });
  for (const node of members) {
    if (node.def.kind === 'event' || node.def.persistent || node.status === 'waiting') continue;
    if (node.undo !== undefined) s.setUndo(node, 'none');
    s.setStatus(node, 'waiting', SCOPE_RETRY_TRANSITIONS);
    node.attemptBase = node.attempt;
    for (const field of RESET_FIELDS) delete node[field];
  }
  // Nodes that had notified are waiting again: the notified-sources cursors no longer hold.
  s.live.index.notifiedSources = new WeakMap();
  for (const node of members) s.tryStart(node);
}

/** Sets a scope's state: a new object, and a new scopes record (stores tell a changed run header by identity). */
function setScope(s: StepContext, id: string, state: ScopeState): void {
  s.run.scopes = { ...s.run.scopes, [id]: state };
}

/** The fields of a node's last attempt that a scope retry forgets. */
const RESET_FIELDS = ['result', 'error', 'inputs', 'retryAt', 'leaseUntil', 'queuedAt', 'startedAt', 'finishedAt', 'doneSeq', 'skip'] as const;
