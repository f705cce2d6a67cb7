/**
 * Live changes to a run: add, remove, link, unlink, relink, replace, retry,
 * skip, cancel, stop. Each is validated first and throws, changing nothing, when
 * invalid; then it is applied, recorded in the history with its actor and a new
 * graph version, and never recomputes a finished node. A listener added to a
 * finished source is notified with the recorded result; a persistent listener
 * added to a source that still emits (an event) takes only later notifications.
 * A relink that leaves a failed source with no listener sets it aside (skipped).
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { InvalidChangeError, UnknownNodeError, ValidationError } from '../errors.js';
import type { LinkDefinition, NodeDefinition } from '../model/definition.js';
import { reaches } from '../model/graph.js';
import { inputProblems } from '../model/validate.js';
import type { Change, LinkSpec } from './events.js';
import { addOutgoing, addToIndex, removeFromIndex, removeOutgoing } from './live.js';
import { activationKey, type NodeState } from './state.js';
import type { Stepper } from './step.js';

/** Node statuses in which a node's definition and inputs may still change. */
const UNFINISHED = new Set(['waiting', 'failed', 'cancelled', 'retrying', 'listening']);

/** Applies one change (see the module doc). Throws before changing anything if it is invalid. */
export function applyChange(s: Stepper, change: Change, actor: string): void {
  const run = s.run;
  if (run.cancelled || run.status === 'rolled_back') {
    throw new InvalidChangeError(`run "${run.id}" is ${run.status}: it cannot be changed`);
  }
  const apply = plan(s, change);
  run.graphVersion++;
  s.record({ type: 'change', actor, detail: describe(change) });
  apply();
}

function describe(change: Change): JsonObject {
  if (change.op === 'add') return { op: 'add', node: change.node.id, task: change.node.name };
  return JSON.parse(JSON.stringify(change)) as JsonObject;
}

/** Validates a change and returns the function that applies it. */
function plan(s: Stepper, change: Change): () => void {
  switch (change.op) {
    case 'add':
      return planAdd(s, change.node, change.sources ?? [], change.listeners ?? []);
    case 'remove':
      return planRemove(s, node(s, change.node));
    case 'link': {
      const link = newLink(s, change.from, change.to, change.map);
      return planLinks(s, node(s, change.to), [link], []);
    }
    case 'unlink': {
      const target = node(s, change.to);
      return planLinks(s, target, [], [existingLink(s, target, change.from)]);
    }
    case 'relink': {
      const target = node(s, change.node);
      const old = existingLink(s, target, change.from);
      const relink = planLinks(s, target, [newLink(s, change.to, change.node, change.map ?? old.map)], [old]);
      return () => {
        relink();
        setAside(s, node(s, change.from), change.node);
      };
    }
    case 'replace':
      return planReplace(s, node(s, change.node), change.with);
    case 'retry':
      return planRetry(s, node(s, change.node), change.activation);
    case 'skip':
      return planSkip(s, node(s, change.node), change.result ?? null);
    case 'cancel':
      if (s.run.status === 'succeeded') throw new InvalidChangeError(`run "${s.run.id}" is succeeded: there is nothing to cancel`);
      return () => cancelRun(s);
    case 'stop':
      return () => stopRun(s);
  }
}

function node(s: Stepper, id: string): NodeState {
  const found = s.run.nodes.get(id);
  if (found === undefined) throw new UnknownNodeError(id, `run "${s.run.id}"`);
  return found;
}

function existingLink(s: Stepper, target: NodeState, from: string): LinkDefinition {
  const link = target.sources.find((l) => l.from === from);
  if (link === undefined) throw new InvalidChangeError(`node "${target.def.id}" does not listen to "${from}" in run "${s.run.id}"`);
  return link;
}

function newLink(s: Stepper, from: string, to: string, map: Record<string, string> = {}): LinkDefinition {
  node(s, from);
  const target = node(s, to);
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

/**
 * A relink routes a listener around a failed source: once no listener is left
 * on it, the failed node is set aside (skipped, its error kept) so that it no
 * longer holds the run failed.
 */
function setAside(s: Stepper, source: NodeState, listener: string): void {
  if (source.status !== 'failed' || (s.live.index.outgoing.get(source.def.id)?.length ?? 0) > 0) return;
  s.setStatus(source, 'skipped');
  s.record({ type: 'node.skipped', node: source.def.id, detail: { reason: 'relinked', listener } });
}

const successorsOf = (s: Stepper) => (id: string) => (s.live.index.outgoing.get(id) ?? []).map((l) => l.to);

function checkNoCycle(s: Stepper, links: readonly LinkDefinition[]): void {
  for (const link of links) {
    if (link.from === link.to || reaches(link.to, link.from, successorsOf(s))) {
      throw new ValidationError(
        [{ kind: 'cycle', nodes: [link.from, link.to, link.from], message: `linking "${link.from}" -> "${link.to}" would make a cycle` }],
        `change to run "${s.run.id}"`,
      );
    }
  }
}

/** Checks the inputs a node would have with the given incoming links (unfinished nodes only). */
function checkInputs(s: Stepper, def: NodeDefinition, status: string, sources: readonly LinkDefinition[], extra?: NodeDefinition): void {
  if (!UNFINISHED.has(status)) return;
  const lookup = (id: string): NodeDefinition | undefined => (extra?.id === id ? extra : s.run.nodes.get(id)?.def);
  const problems = inputProblems(def, sources, lookup, s.run.inputs);
  if (problems.length > 0) throw new ValidationError(problems, `change to run "${s.run.id}"`);
}

function planLinks(s: Stepper, target: NodeState, added: LinkDefinition[], dropped: LinkDefinition[]): () => void {
  checkNoCycle(s, added);
  const sources = [...target.sources.filter((l) => !dropped.includes(l)), ...added];
  checkInputs(s, target.def, target.status, sources);
  return () => {
    for (const link of dropped) removeOutgoing(s.live.index, link);
    for (const link of added) addOutgoing(s.live.index, link);
    target.sources = sources;
    s.touch(target);
    for (const link of added) {
      const source = s.run.nodes.get(link.from) as NodeState;
      if (target.def.persistent && isFinished(source)) s.activate(target, link.from);
    }
    s.tryStart(target);
  };
}

/** The nodes a change to add `id` links it to: existing, each once, and no event among the listeners. */
function checkSpecs(s: Stepper, id: string, specs: readonly LinkSpec[], role: 'source' | 'listener'): void {
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

function planAdd(s: Stepper, def: NodeDefinition, sources: LinkSpec[], listeners: LinkSpec[]): () => void {
  if (s.run.nodes.has(def.id)) throw new InvalidChangeError(`node "${def.id}" already exists in run "${s.run.id}"`);
  checkSpecs(s, def.id, sources, 'source');
  checkSpecs(s, def.id, listeners, 'listener');
  const incoming = sources.map((spec) => ({ from: spec.node, to: def.id, map: { ...(spec.map ?? {}) }, inferred: false }));
  const outgoing = listeners.map((spec) => ({ from: def.id, to: spec.node, map: { ...(spec.map ?? {}) }, inferred: false }));
  for (const a of listeners) {
    for (const b of sources) {
      if (a.node === b.node || reaches(a.node, b.node, successorsOf(s))) {
        throw new ValidationError(
          [{ kind: 'cycle', nodes: [b.node, def.id, a.node], message: `adding "${def.id}" between "${b.node}" and "${a.node}" would make a cycle` }],
          `change to run "${s.run.id}"`,
        );
      }
    }
  }
  const status = def.kind === 'event' || def.persistent ? 'listening' : 'waiting';
  checkInputs(s, def, status, incoming);
  for (const link of outgoing) {
    const target = node(s, link.to);
    checkInputs(s, target.def, target.status, [...target.sources, link], def);
  }
  return () => {
    const state: NodeState = { def, sources: incoming, status, attempt: 0 };
    s.run.nodes.set(def.id, state);
    addToIndex(s.live.index, state);
    s.touch(state);
    for (const link of outgoing) {
      const target = s.run.nodes.get(link.to) as NodeState;
      target.sources = [...target.sources, link];
      addOutgoing(s.live.index, link);
      s.touch(target);
    }
    if (def.persistent) {
      for (const link of incoming) if (isFinished(s.run.nodes.get(link.from) as NodeState)) s.activate(state, link.from);
    } else {
      s.tryStart(state);
    }
  };
}

function planRemove(s: Stepper, target: NodeState): () => void {
  const id = target.def.id;
  // A copy: the index's own list is dropped below, and listeners start after.
  const listeners = [...(s.live.index.outgoing.get(id) ?? [])];
  for (const link of listeners) {
    const listener = s.run.nodes.get(link.to) as NodeState;
    checkInputs(s, listener.def, listener.status, listener.sources.filter((l) => l.from !== id));
  }
  return () => {
    if (target.status === 'running') s.out.commands.push({ type: 'abort', runId: s.run.id, node: id });
    for (const [key, activation] of s.run.activations) {
      if (activation.node !== id) continue;
      s.run.activations.delete(key);
      if (activation.status === 'running' || activation.status === 'retrying') {
        s.live.index.liveActivations--;
        s.out.commands.push({ type: 'abort', runId: s.run.id, node: id, activation: activation.seq });
      }
    }
    removeFromIndex(s.live.index, target);
    s.run.nodes.delete(id);
    s.out.nodes.delete(id);
    s.out.backlog.delete(id);
    s.out.removed.add(id);
    s.live.index.outgoing.delete(id);
    for (const link of listeners) {
      const listener = s.run.nodes.get(link.to) as NodeState;
      listener.sources = listener.sources.filter((l) => l.from !== id);
      s.touch(listener);
    }
    for (const link of listeners) s.tryStart(s.run.nodes.get(link.to) as NodeState);
  };
}

function planReplace(s: Stepper, target: NodeState, changes: Partial<Omit<NodeDefinition, 'id' | 'kind'>>): () => void {
  if (!UNFINISHED.has(target.status)) {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a node that has not finished or has failed can be replaced`);
  }
  const def: NodeDefinition = { ...target.def, ...changes, id: target.def.id, kind: target.def.kind };
  checkInputs(s, def, target.status, target.sources);
  return () => {
    const wasPersistent = target.def.persistent && target.def.kind === 'task';
    s.live.index.persistent += Number(def.persistent && def.kind === 'task') - Number(wasPersistent);
    target.def = def;
    s.touch(target);
    if (target.status !== 'waiting' && target.status !== 'listening') {
      s.setStatus(target, 'waiting');
      delete target.error;
      delete target.retryAt;
    }
    s.tryStart(target);
  };
}

function planRetry(s: Stepper, target: NodeState, activation: number | undefined): () => void {
  if (!s.accepting) throw new InvalidChangeError(`run "${s.run.id}" is rolling back: nodes cannot be retried`);
  if (activation !== undefined) {
    const found = s.run.activations.get(activationKey(target.def.id, activation));
    if (found?.status !== 'failed') {
      throw new InvalidChangeError(`activation ${activation} of node "${target.def.id}" has not failed: only a failed activation can be retried`);
    }
    return () => s.retryActivation(found);
  }
  if (target.status !== 'failed' && target.status !== 'cancelled') {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a failed or cancelled node can be retried`);
  }
  return () => {
    s.setStatus(target, 'waiting');
    delete target.error;
    s.tryStart(target);
  };
}

function planSkip(s: Stepper, target: NodeState, result: JsonObject[string]): () => void {
  if (!['waiting', 'failed', 'retrying', 'cancelled'].includes(target.status)) {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a node that has not run or has failed can be skipped`);
  }
  return () => {
    s.setStatus(target, 'skipped');
    target.result = result;
    target.finishedAt = s.now;
    target.doneSeq = ++s.run.seq;
    delete target.retryAt;
    s.record({ type: 'node.skipped', node: target.def.id });
    s.notifyListeners(target);
  };
}

function cancelRun(s: Stepper): void {
  s.run.cancelled = true;
  s.out.commands.push({ type: 'abort', runId: s.run.id });
  for (const target of s.run.nodes.values()) {
    if (['waiting', 'running', 'retrying', 'listening'].includes(target.status)) {
      s.setStatus(target, 'cancelled');
      s.record({ type: 'node.cancelled', node: target.def.id });
    }
  }
  for (const activation of [...s.run.activations.values()]) {
    if (activation.status === 'running' || activation.status === 'retrying') s.setActivation(activation, 'cancelled');
  }
}

function stopRun(s: Stepper): void {
  if (s.run.stopped) throw new InvalidChangeError(`run "${s.run.id}" is already stopped`);
  s.run.stopped = true;
  for (const target of s.run.nodes.values()) if (target.status === 'listening') s.setStatus(target, 'succeeded');
}
