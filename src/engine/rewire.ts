/**
 * The changes that rewire a run's graph: link, unlink, relink, add, remove,
 * replace; and the rule that sets aside a failed node a relink left with no
 * listener.
 *
 * @packageDocumentation
 */
import { dropFromGate } from './gates.js';
import { InvalidChangeError } from '../errors.js';
import type { LinkDefinition, NodeDefinition } from '../model/definition.js';
import { activate, cancelActivation } from './activations.js';
import { inRun, node, setSources, setStatus, UNFINISHED, type Edit, type Effect } from './edit.js';
import type { Change, LinkSpec } from './events.js';
import { addToIndex, removeFromIndex } from './live.js';
import { checkNotUndoing, checkRemovable } from './saga.js';
import type { NodeState } from './state.js';
import { written, type StepContext } from './step-context.js';

/** Adds a link (change `link`). */
export function link(e: Edit, change: Extract<Change, { op: 'link' }>): Effect {
  const target = node(e.s, change.to);
  const added = newLink(e.s, change.from, target, change.map);
  setSources(e, target, [...target.sources, added]);
  return afterLinking(e.s, target, [added]);
}

/** Removes a link (change `unlink`). */
export function unlink(e: Edit, change: Extract<Change, { op: 'unlink' }>): Effect {
  const target = node(e.s, change.to);
  const old = existingLink(e.s, target, change.from);
  setSources(e, target, target.sources.filter((l) => l !== old));
  return afterLinking(e.s, target, []);
}

function existingLink(s: StepContext, target: NodeState, from: string): LinkDefinition {
  const link = target.sources.find((l) => l.from === from);
  if (link === undefined) throw new InvalidChangeError(`node "${target.def.id}" does not listen to "${from}" in run "${s.run.id}"`);
  return link;
}

function newLink(s: StepContext, from: string, target: NodeState, map: Record<string, string> = {}): LinkDefinition {
  node(s, from);
  const to = target.def.id;
  if (target.def.kind === 'event') throw new InvalidChangeError(`event "${to}" cannot listen to "${from}": events are notified, not linked to`);
  if (target.sources.some((l) => l.from === from)) throw new InvalidChangeError(`node "${to}" already listens to "${from}"`);
  return { from, to, map: { ...map }, inferred: false };
}

/**
 * Whether a source has finished with a recorded result. A persistent listener
 * linked to a finished source is activated once with that result; linked to a
 * source that still emits (an event, a persistent listener), it takes only the
 * notifications that come after the change.
 */
const isFinished = (source: NodeState): boolean => source.status === 'succeeded' || source.status === 'skipped';

/** The effect of new links into `target`: a persistent listener takes finished sources' results, a one-shot one may start. */
function afterLinking(s: StepContext, target: NodeState, added: readonly LinkDefinition[]): Effect {
  return () => {
    if (!inRun(s, target)) return;
    if (target.def.persistent) {
      for (const link of added) {
        const source = s.run.nodes.get(link.from);
        if (target.sources.includes(link) && source !== undefined && isFinished(source)) activate(s, target, link.from);
      }
    }
    s.tryStart(target);
  };
}

/**
 * A relink routes a listener around a source: once no listener is left on it, a
 * failed source is set aside (skipped with a `null` result, its error kept) so that it no longer
 * holds the run failed. The rule holds whenever the failure comes: the engine
 * calls this when a relinked-away node fails for good, too. Returns whether
 * the node was set aside.
 */
export function setAside(s: StepContext, source: NodeState): boolean {
  if (source.status !== 'failed' || source.relinkedAway === undefined || (s.live.index.outgoing.get(source.def.id)?.length ?? 0) > 0) return false;
  s.setStatus(source, 'skipped');
  source.result = null; // as a skip without a value: a listener linked later is not left waiting
  s.record({ type: 'node.skipped', node: source.def.id, detail: { reason: 'relinked', listener: source.relinkedAway } });
  return true;
}

/** Routes a listener around a source (change `relink`). */
export function relink(e: Edit, target: NodeState, from: string, to: string, map: Record<string, string> | undefined): Effect {
  const s = e.s;
  const old = existingLink(s, target, from);
  const link = newLink(s, to, target, map ?? old.map);
  setSources(e, target, [...target.sources.filter((l) => l !== old), link]);
  const source = node(s, from);
  e.journal.node(source);
  source.relinkedAway = target.def.id;
  s.touch(source);
  const linked = afterLinking(s, target, [link]);
  return () => {
    linked();
    if (inRun(s, source)) setAside(s, source);
  };
}

/** The nodes a change to add `id` links it to: existing, each once, and no event among the listeners. */
function checkSpecs(s: StepContext, id: string, specs: readonly LinkSpec[], role: 'source' | 'listener'): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    const other = node(s, spec.node);
    if (seen.has(spec.node)) throw new InvalidChangeError(`node "${id}" names ${role} "${spec.node}" twice`);
    seen.add(spec.node);
    if (role === 'listener' && other.def.kind === 'event') {
      throw new InvalidChangeError(`event "${spec.node}" cannot listen to "${id}": events are notified, not linked to`);
    }
  }
}

/**
 * Adds a node. An event or persistent listener added to a stopped run reopens
 * it: the run listens again until it is stopped (or cancelled) again.
 */
/** Refuses a node added into a subflow scope the run does not have, or under an id outside its scope. */
function checkScope(s: StepContext, def: NodeDefinition): void {
  const scope = def.scope;
  if (scope === undefined) {
    if (def.id.includes('/')) throw new InvalidChangeError(`node "${def.id}": an id with "/" names a node of a subflow, and the node has no scope`);
    return;
  }
  if (s.run.scopes?.[scope] === undefined) throw new InvalidChangeError(`node "${def.id}": run "${s.run.id}" has no subflow "${scope}"`);
  if (!def.id.startsWith(`${scope}/`)) throw new InvalidChangeError(`node "${def.id}" of subflow "${scope}": its id must start with "${scope}/"`);
}

export function add(e: Edit, def: NodeDefinition, sources: LinkSpec[], listeners: LinkSpec[]): Effect {
  const s = e.s;
  if (s.run.nodes.has(def.id)) throw new InvalidChangeError(`node "${def.id}" already exists in run "${s.run.id}"`);
  checkScope(s, def);
  checkSpecs(s, def.id, sources, 'source');
  checkSpecs(s, def.id, listeners, 'listener');
  const incoming = sources.map((spec) => ({ from: spec.node, to: def.id, map: { ...(spec.map ?? {}) }, inferred: false }));
  const status = def.kind === 'event' || def.persistent ? 'listening' : 'waiting';
  const state: NodeState = { def, sources: incoming, status, attempt: 0 };
  const retired = s.run.retiredAttempts?.[def.id];
  if (retired !== undefined) {
    // Continues the removed node's numbering (its execution may still signal or be aborted).
    state.attempt = state.attemptBase = retired;
    const { [def.id]: _done, ...others } = s.run.retiredAttempts as Record<string, number>;
    if (Object.keys(others).length > 0) s.run.retiredAttempts = others;
    else delete s.run.retiredAttempts;
  }
  e.journal.member(def.id);
  for (const link of incoming) e.journal.outgoing(link.from);
  s.run.nodes.set(def.id, state);
  addToIndex(s.live.index, state);
  s.touch(state);
  e.check.add(def.id);
  e.added.push(...incoming);
  for (const spec of listeners) {
    const target = node(s, spec.node);
    setSources(e, target, [...target.sources, { from: def.id, to: spec.node, map: { ...(spec.map ?? {}) }, inferred: false }]);
  }
  if (status === 'listening') s.run.stopped = false;
  return afterLinking(s, state, incoming);
}

/** Removes a node (change `remove`); its live executions are aborted. */
export function remove(e: Edit, target: NodeState): Effect {
  const s = e.s;
  checkRemovable(s, target);
  const id = target.def.id;
  const listeners = (s.live.index.outgoing.get(id) ?? []).map((link) => s.run.nodes.get(link.to) as NodeState);
  if (target.status === 'running') s.out.commands.push({ type: 'abort', runId: s.run.id, node: id, attempt: target.attempt });
  if (target.throttled !== undefined || target.gate !== undefined) {
    e.journal.node(target);
    dropFromGate(s, target);
  }
  if (target.attempt > 0) s.run.retiredAttempts = { ...s.run.retiredAttempts, [id]: target.attempt };
  for (const [key, activation] of [...s.run.activations]) {
    if (activation.node !== id || (activation.status !== 'running' && activation.status !== 'retrying')) continue;
    // Live activations are recorded cancelled (a store would otherwise keep them
    // running for ever); the others stay as the store has them (and a reload gives).
    e.journal.activation(key, activation);
    cancelActivation(s, activation);
  }
  for (const listener of listeners) setSources(e, listener, listener.sources.filter((l) => l.from !== id));
  e.journal.member(id);
  e.journal.outgoing(id);
  for (const link of target.sources) e.journal.outgoing(link.from);
  removeFromIndex(s.live.index, target);
  s.run.nodes.delete(id);
  s.out.nodes.delete(id);
  written(s.out, 'removed').add(id);
  s.live.index.outgoing.delete(id);
  return () => {
    s.out.backlog.delete(id);
    for (const listener of listeners) if (inRun(s, listener)) s.tryStart(listener);
  };
}

/** Gives a node a new definition (change `replace`); one that had run waits to run again. */
export function replace(e: Edit, target: NodeState, changes: Partial<Omit<NodeDefinition, 'id' | 'kind'>>): Effect {
  const s = e.s;
  const id = target.def.id;
  if (!UNFINISHED.has(target.status)) {
    throw new InvalidChangeError(`node "${id}" is ${target.status}: only a node that has not finished or has failed can be replaced`);
  }
  checkNotUndoing(s, target);
  const def: NodeDefinition = { ...target.def, ...changes, id, kind: target.def.kind, persistent: changes.persistent ?? target.def.persistent };
  if (def.persistent !== target.def.persistent) {
    const [is, not] = target.def.persistent ? ['persistent', 'one-shot'] : ['one-shot', 'persistent'];
    throw new InvalidChangeError(`node "${id}" is ${is}: replace cannot make it ${not}; remove it and add a ${not} node`);
  }
  e.journal.node(target);
  target.def = def;
  s.touch(target);
  e.check.add(id);
  // The listeners take their inputs from the new definition's provided names.
  for (const link of s.live.index.outgoing.get(id) ?? []) e.check.add(link.to);
  if (target.status !== 'waiting' && target.status !== 'listening') {
    setStatus(e, target, 'waiting');
    delete target.error;
    delete target.retryAt;
  }
  return () => {
    if (inRun(s, target)) s.tryStart(target);
  };
}

