/**
 * Live changes to a run: add, remove, link, unlink, relink, replace, retry,
 * skip, condition, cancel, stop. A list of changes is applied as one: each is checked
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
import type { Json, JsonObject } from '../codec/json.js';
import { InvalidChangeError, ValidationError, type ValidationProblem } from '../errors.js';
import type { NodeDefinition } from '../model/definition.js';
import { pathBetween } from '../model/graph.js';
import { inputProblems } from '../model/validate.js';
import { node, UNFINISHED, type Edit, type Effect } from './edit.js';
import type { Change } from './events.js';
import { ChangeJournal } from './journal.js';
import { setCondition } from './conditions.js';
import { cancel, retry, skip, stop } from './node-changes.js';
import { add, link, relink, remove, replace, unlink } from './rewire.js';
import type { StepContext } from './step-context.js';

/** Node statuses in which a node may still need its inputs: a running node may fail and run again. */
const NEEDS_INPUTS = new Set([...UNFINISHED, 'running']);

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
      s.record({ type: 'change', actor, detail: describe(s, change) });
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

/**
 * A change's history detail: its arguments, and what it takes away as the
 * graph had it (a removed node with its links, an unlinked or relinked link's
 * map, the fields a replace overwrites), so that the graph at any version can
 * be rebuilt from the graph now and the history (the dashboard's time travel).
 */
function describe(s: StepContext, change: Change): JsonObject {
  if (change.op === 'add') return { op: 'add', node: change.node.id, task: change.node.name };
  const detail = JSON.parse(JSON.stringify(change)) as JsonObject;
  const target = 'node' in change && typeof change.node === 'string' ? s.run.nodes.get(change.node) : undefined;
  const mapOf = (from: string, to: string): Json | undefined => s.run.nodes.get(to)?.sources.find((l) => l.from === from)?.map;
  if (change.op === 'remove' && target !== undefined) {
    const def = target.def;
    const listeners = (s.live.index.outgoing.get(def.id) ?? []).map((l): JsonObject => ({ to: l.to, map: l.map }));
    detail['removed'] = { kind: def.kind, name: def.name, persistent: def.persistent, bound: def.bound, sources: target.sources.map((l): JsonObject => ({ from: l.from, map: l.map })), listeners };
  }
  if (change.op === 'unlink') detail['map'] = mapOf(change.from, change.to) ?? null;
  if (change.op === 'relink') detail['fromMap'] = mapOf(change.from, change.node) ?? null;
  if (change.op === 'condition') detail['before'] = (s.run.nodes.get(change.to)?.sources.find((l) => l.from === change.from)?.condition as JsonObject | undefined) ?? null;
  if (change.op === 'replace' && target !== undefined) {
    const before: JsonObject = {};
    for (const field of Object.keys(change.with)) before[field] = (target.def as unknown as JsonObject)[field] ?? null;
    detail['before'] = before;
  }
  return detail;
}

/** Checks one change against the run as it is now, edits it, and returns its effect. */
function plan(e: Edit, change: Change): Effect | undefined {
  const s = e.s;
  switch (change.op) {
    case 'add':
      return add(e, change.node, change.sources ?? [], change.listeners ?? []);
    case 'remove':
      return remove(e, node(s, change.node));
    case 'link':
      return link(e, change);
    case 'unlink':
      return unlink(e, change);
    case 'relink':
      return relink(e, node(s, change.node), change.from, change.to, change.map);
    case 'replace':
      return replace(e, node(s, change.node), change.with);
    case 'retry':
      return retry(e, node(s, change.node), change.activation);
    case 'skip':
      return skip(e, node(s, change.node), change.result ?? null);
    case 'condition':
      return setCondition(e, change);
    case 'cancel':
      cancel(e);
      return undefined;
    case 'stop':
      stop(e);
      return undefined;
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
