/**
 * Live changes to a run: add, remove, link, unlink, relink, replace, retry,
 * skip, cancel, stop. A list of changes is applied as one: each is checked
 * against the run as the changes before it left it and edits it in place, then
 * the resulting graph is validated (no cycle through a new link; every
 * unfinished node whose definition, links or sources' definitions changed has
 * each required input provided, and none provided twice). If anything is
 * invalid, everything is put back (see {@link ChangeJournal}) and the error is
 * thrown: a refused list leaves no trace. Otherwise the list is recorded, one
 * history entry per change, under one new graph version, and only then do its
 * effects run on the final graph (dispatches, activations, notifications), so
 * no dispatch ever sees a half-edited graph. Changes never recompute a
 * finished node. A listener added to a finished source is notified with the
 * recorded result; a persistent listener added to a source that still emits
 * (an event) takes only later notifications. A failed node that a relink left
 * with no listener is set aside (skipped), whether it had failed before the
 * relink or fails after it.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { InvalidChangeError, UnknownNodeError, ValidationError, type ValidationProblem } from '../errors.js';
import type { LinkDefinition, NodeDefinition } from '../model/definition.js';
import { pathBetween } from '../model/graph.js';
import { inputProblems } from '../model/validate.js';
import type { Change, LinkSpec } from './events.js';
import { ChangeJournal } from './journal.js';
import { addOutgoing, addToIndex, removeFromIndex, removeOutgoing } from './live.js';
import { checkNotUndoing, checkNoUndoRunning, checkRemovable } from './saga.js';
import { activationKey, type NodeState, type NodeStatus } from './state.js';
import type { StepContext } from './step-context.js';

/** Node statuses in which a node's definition and inputs may still change. */
const UNFINISHED = new Set(['waiting', 'failed', 'cancelled', 'retrying', 'listening']);
/** Node statuses in which a node may still need its inputs: a running node may fail and run again. */
const NEEDS_INPUTS = new Set([...UNFINISHED, 'running']);

/** What to do once the whole list is valid, on the final graph. */
type Effect = () => void;

/** One list of changes being applied: the stepper, the undo journal, and what to validate at the end. */
interface Edit {
  readonly s: StepContext;
  readonly journal: ChangeJournal;
  /** Nodes whose inputs must be checked on the final graph. */
  readonly check: Set<string>;
  /** Links added by the list (checked for cycles on the final graph). */
  readonly added: LinkDefinition[];
}

/**
 * Applies a list of changes as one step (see the module doc). Throws, leaving
 * the run and `s.out` exactly as they were, if any change or the result is invalid.
 */
export function applyChanges(s: StepContext, changes: readonly Change[], actor: string): void {
  if (changes.length === 0) throw new InvalidChangeError(`no change given for run "${s.run.id}"`);
  const edit: Edit = { s, journal: new ChangeJournal(s.run, s.live.index, s.out), check: new Set(), added: [] };
  const effects: Effect[] = [];
  try {
    s.run.graphVersion++;
    for (const change of changes) {
      if (s.run.cancelled || s.run.status === 'rolled_back' || s.run.status === 'rollback_failed') {
        throw new InvalidChangeError(`run "${s.run.id}" is ${s.run.cancelled ? 'cancelled' : s.run.status}: it cannot be changed`);
      }
      s.record({ type: 'change', actor, detail: describe(change) });
      const effect = plan(edit, change);
      if (effect !== undefined) effects.push(effect);
    }
    validate(edit);
  } catch (error) {
    edit.journal.undo();
    throw error;
  }
  for (const effect of effects) effect();
}

function describe(change: Change): JsonObject {
  if (change.op === 'add') return { op: 'add', node: change.node.id, task: change.node.name };
  return JSON.parse(JSON.stringify(change)) as JsonObject;
}

/** Checks one change against the run as it is now, edits it, and returns its effect. */
function plan(e: Edit, change: Change): Effect | undefined {
  const s = e.s;
  switch (change.op) {
    case 'add':
      return add(e, change.node, change.sources ?? [], change.listeners ?? []);
    case 'remove':
      return remove(e, node(s, change.node));
    case 'link': {
      const target = node(s, change.to);
      const link = newLink(s, change.from, target, change.map);
      setSources(e, target, [...target.sources, link]);
      return afterLinking(s, target, [link]);
    }
    case 'unlink': {
      const target = node(s, change.to);
      const old = existingLink(s, target, change.from);
      setSources(e, target, target.sources.filter((l) => l !== old));
      return afterLinking(s, target, []);
    }
    case 'relink':
      return relink(e, node(s, change.node), change.from, change.to, change.map);
    case 'replace':
      return replace(e, node(s, change.node), change.with);
    case 'retry':
      return retry(e, node(s, change.node), change.activation);
    case 'skip':
      return skip(e, node(s, change.node), change.result ?? null);
    case 'cancel':
      if (s.run.status === 'succeeded') throw new InvalidChangeError(`run "${s.run.id}" is succeeded: there is nothing to cancel`);
      if (s.run.saga) throw new InvalidChangeError(`run "${s.run.id}" is rolling back: it cannot be cancelled (its compensations run to the end)`);
      checkNoUndoRunning(s);
      cancel(e);
      return undefined;
    case 'stop':
      stop(e);
      return undefined;
  }
}

function node(s: StepContext, id: string): NodeState {
  const found = s.run.nodes.get(id);
  if (found === undefined) throw new UnknownNodeError(id, `run "${s.run.id}"`);
  return found;
}

/** Whether a node is still the run's (a later change of the list may have removed it). */
const inRun = (s: StepContext, target: NodeState): boolean => s.run.nodes.get(target.def.id) === target;

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

/** Moves a node to a new status, journaled. */
function setStatus(e: Edit, target: NodeState, to: NodeStatus): void {
  e.journal.node(target);
  e.s.setStatus(target, to);
}

/** Gives a node new incoming links, journaled, keeping the outgoing index in step. */
function setSources(e: Edit, target: NodeState, sources: LinkDefinition[]): void {
  const index = e.s.live.index;
  e.journal.node(target);
  for (const link of target.sources) {
    if (sources.includes(link)) continue;
    e.journal.outgoing(link.from);
    removeOutgoing(index, link);
  }
  for (const link of sources) {
    if (target.sources.includes(link)) continue;
    e.journal.outgoing(link.from);
    addOutgoing(index, link);
    e.added.push(link);
  }
  target.sources = sources;
  e.s.touch(target);
  e.check.add(target.def.id);
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
        if (target.sources.includes(link) && source !== undefined && isFinished(source)) s.activate(target, link.from);
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

function relink(e: Edit, target: NodeState, from: string, to: string, map: Record<string, string> | undefined): Effect {
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
function add(e: Edit, def: NodeDefinition, sources: LinkSpec[], listeners: LinkSpec[]): Effect {
  const s = e.s;
  if (s.run.nodes.has(def.id)) throw new InvalidChangeError(`node "${def.id}" already exists in run "${s.run.id}"`);
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

function remove(e: Edit, target: NodeState): Effect {
  const s = e.s;
  checkRemovable(s, target);
  const id = target.def.id;
  const listeners = (s.live.index.outgoing.get(id) ?? []).map((link) => s.run.nodes.get(link.to) as NodeState);
  if (target.status === 'running') s.out.commands.push({ type: 'abort', runId: s.run.id, node: id, attempt: target.attempt });
  if (target.attempt > 0) s.run.retiredAttempts = { ...s.run.retiredAttempts, [id]: target.attempt };
  for (const [key, activation] of [...s.run.activations]) {
    if (activation.node !== id || (activation.status !== 'running' && activation.status !== 'retrying')) continue;
    // Live activations are recorded cancelled (a store would otherwise keep them
    // running for ever); the others stay as the store has them (and a reload gives).
    e.journal.activation(key, activation);
    s.cancelActivation(activation);
  }
  for (const listener of listeners) setSources(e, listener, listener.sources.filter((l) => l.from !== id));
  e.journal.member(id);
  e.journal.outgoing(id);
  for (const link of target.sources) e.journal.outgoing(link.from);
  removeFromIndex(s.live.index, target);
  s.run.nodes.delete(id);
  s.out.nodes.delete(id);
  s.out.removed.add(id);
  s.live.index.outgoing.delete(id);
  return () => {
    s.out.backlog.delete(id);
    for (const listener of listeners) if (inRun(s, listener)) s.tryStart(listener);
  };
}

function replace(e: Edit, target: NodeState, changes: Partial<Omit<NodeDefinition, 'id' | 'kind'>>): Effect {
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

function retry(e: Edit, target: NodeState, activation: number | undefined): Effect | undefined {
  const s = e.s;
  if (!s.accepting) throw new InvalidChangeError(`run "${s.run.id}" is rolling back: nodes cannot be retried`);
  if (activation !== undefined) {
    const key = activationKey(target.def.id, activation);
    const found = s.run.activations.get(key);
    if (found?.status !== 'failed') {
      throw new InvalidChangeError(`activation ${activation} of node "${target.def.id}" has not failed: only a failed activation can be retried`);
    }
    checkNotUndoing(s, found);
    e.journal.activation(key, found);
    s.retryActivation(found);
    return undefined;
  }
  if (target.status !== 'failed' && target.status !== 'cancelled') {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a failed or cancelled node can be retried`);
  }
  checkNotUndoing(s, target);
  setStatus(e, target, 'waiting');
  delete target.error;
  return () => {
    if (inRun(s, target)) s.tryStart(target);
  };
}

function skip(e: Edit, target: NodeState, result: JsonObject[string]): Effect {
  const s = e.s;
  if (!['waiting', 'failed', 'retrying', 'cancelled'].includes(target.status)) {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a node that has not run or has failed can be skipped`);
  }
  checkNotUndoing(s, target);
  setStatus(e, target, 'skipped');
  target.result = result;
  target.finishedAt = s.now;
  target.doneSeq = ++s.run.seq;
  delete target.retryAt;
  s.record({ type: 'node.skipped', node: target.def.id });
  return () => {
    if (inRun(s, target)) s.notifyListeners(target);
  };
}

/**
 * Records a persistent listener's backlog (notifications that waited for its
 * other inputs) as activations that were never delivered: `cancelled`, with a
 * `NotDelivered` error, and a `node.cancelled` history entry each.
 */
function dropBacklog(e: Edit, target: NodeState, reason: 'stopped' | 'cancelled'): void {
  const s = e.s;
  if (target.backlog === undefined) return;
  e.journal.node(target);
  for (const entry of target.backlog) {
    const message = `notification ${entry.seq} from "${entry.from}" was not delivered: the run was ${reason} before the other inputs of "${target.def.id}" arrived`;
    s.notDelivered(target, entry, {}, reason, message);
  }
  delete target.backlog;
  s.touch(target);
}

/**
 * Records the results a persistent listener held back for notification order
 * as not delivered to its persistent listeners: the run is cancelled, nothing
 * will pass them on.
 */
function dropHeld(e: Edit, target: NodeState): void {
  const s = e.s;
  if (target.held === undefined) return;
  e.journal.node(target);
  for (const entry of target.held) {
    // The node's own result is that of its latest notification, as a release would make it.
    if (target.resultSeq === undefined || entry.seq > target.resultSeq) {
      target.result = entry.result;
      target.resultSeq = entry.seq;
    }
    target.emitted = (target.emitted ?? 0) + 1;
    for (const link of s.live.index.outgoing.get(target.def.id) ?? []) {
      const listener = s.run.nodes.get(link.to);
      if (listener?.def.persistent) s.dropNotification(listener, target, entry.result, 'cancelled');
    }
  }
  delete target.held;
  s.touch(target);
}

function cancel(e: Edit): void {
  const s = e.s;
  if (s.run.status === 'succeeded') throw new InvalidChangeError(`run "${s.run.id}" is succeeded: there is nothing to cancel`);
  s.run.cancelled = true;
  s.out.commands.push({ type: 'abort', runId: s.run.id });
  for (const target of s.run.nodes.values()) dropHeld(e, target);
  for (const target of s.run.nodes.values()) {
    if (['waiting', 'running', 'retrying', 'listening'].includes(target.status)) {
      dropBacklog(e, target, 'cancelled');
      setStatus(e, target, 'cancelled');
      s.record({ type: 'node.cancelled', node: target.def.id });
    }
  }
  for (const [key, activation] of [...s.run.activations]) {
    if (activation.status !== 'running' && activation.status !== 'retrying') continue;
    e.journal.activation(key, activation);
    s.setActivation(activation, 'cancelled');
  }
}

function stop(e: Edit): void {
  const s = e.s;
  if (s.run.stopped) throw new InvalidChangeError(`run "${s.run.id}" is already stopped`);
  s.run.stopped = true;
  for (const target of s.run.nodes.values()) {
    if (target.status !== 'listening') continue;
    dropBacklog(e, target, 'stopped');
    setStatus(e, target, 'succeeded');
  }
}

const quotePath = (path: readonly string[]): string => path.map((id) => `"${id}"`).join(' -> ');

const successorsOf = (s: StepContext) => (id: string) => (s.live.index.outgoing.get(id) ?? []).map((l) => l.to);

/** Validates the graph the list left: no cycle through a new link, and the inputs of every node it touched. */
function validate(e: Edit): void {
  const s = e.s;
  for (const link of e.added) {
    const target = s.run.nodes.get(link.to);
    if (target === undefined || !target.sources.includes(link) || !s.run.nodes.has(link.from)) continue;
    const back = pathBetween(link.to, link.from, successorsOf(s));
    if (back !== undefined) {
      const cycle = [link.from, ...back];
      throw new ValidationError(
        [{ kind: 'cycle', nodes: cycle, message: `linking "${link.from}" -> "${link.to}" would make a cycle: ${quotePath(cycle)}` }],
        `change to run "${s.run.id}"`,
      );
    }
  }
  const problems: ValidationProblem[] = [];
  const lookup = (id: string): NodeDefinition | undefined => s.run.nodes.get(id)?.def;
  for (const id of e.check) {
    const target = s.run.nodes.get(id);
    if (target !== undefined && NEEDS_INPUTS.has(target.status)) problems.push(...inputProblems(target.def, target.sources, lookup, s.run.inputs));
  }
  if (problems.length > 0) throw new ValidationError(problems, `change to run "${s.run.id}"`);
}
