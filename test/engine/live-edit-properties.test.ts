/**
 * Property tests of live changes: random DAGs driven to the end in a random
 * order while random edits, valid and invalid, single and in lists, land at
 * random moments. A model of the graph (nodes, bound values, links, results)
 * is kept beside the engine and serves as the reference evaluator:
 * - a refused edit leaves no trace (state, indexes, commands, history);
 * - an accepted edit (or list) bumps the graph version by one and leaves the
 *   engine's graph equal to the model's with the edits applied in order;
 * - every apply dispatch has every source finished and exactly the inputs the
 *   model computes (bound value and the sources' recorded results);
 * - at the end every node finished exactly once and the run succeeded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json, JsonObject } from '../../src/codec/json.js';
import type { Change, Command, DispatchCommand, EngineEvent } from '../../src/engine/events.js';
import type { FlowDefinition } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { InvalidChangeError } from '../../src/errors.js';
import { Harness, oops, prng, snapshot, checkCopiesOnEveryStep } from './harness.js';

checkCopiesOnEveryStep(); // stepping never changes a copyRun() copy (see the harness)

/** A node of the model: its bound value, its required data sources, and the sources it listens to. */
interface ModelNode {
  bound: number;
  requires: string[];
  sources: Set<string>;
  failures: number;
}

/** The reference: the graph as the accepted edits left it, and the results recorded. */
interface Model {
  nodes: Map<string, ModelNode>;
  results: Map<string, number>;
  /** Nodes finished (succeeded or skipped): their inputs and links no longer matter. */
  finished: Set<string>;
  stopped: boolean;
}

const RETRY = { limit: 3, initialDelayMs: 10, factor: 2, maxDelayMs: 50, jitter: 0.5 };

/** A task node: requires `b` (bound) and its data sources' values (a task provides its own id). */
const definition = (id: string, node: ModelNode) => task(id, { requires: ['b', ...node.requires], retry: RETRY, apply: () => 0 }).s({ b: node.bound }).definition();

/** A random DAG of 1-12 nodes: sources have lower indexes, some of them feed an input. */
function randomModel(random: () => number): Model {
  const nodes = new Map<string, ModelNode>();
  const count = 1 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    const sources = new Set<string>();
    const requires: string[] = [];
    for (let j = 0; j < i; j++) {
      if (random() < 0.25) {
        sources.add(`n${j}`);
        if (random() < 0.5) requires.push(`n${j}`);
      }
    }
    nodes.set(`n${i}`, { bound: Math.floor(random() * 100), requires, sources, failures: random() < 0.15 ? 4 + Math.floor(random() * 2) : Math.floor(random() * 3) });
  }
  return { nodes, results: new Map(), finished: new Set(), stopped: false };
}

/** The flow of the model, as a definition. */
function buildFlow(model: Model): FlowDefinition {
  const nodes = [...model.nodes].map(([id, node]) => definition(id, node));
  const links = [...model.nodes].flatMap(([to, node]) => [...node.sources].map((from) => ({ from, to, map: {}, inferred: false })));
  return { name: 'live-edits', nodes, links, onFailure: 'halt' };
}

const pick = <T>(random: () => number, list: readonly T[]): T | undefined => list[Math.floor(random() * list.length)];

/** A random edit, valid or not: unknown nodes, cycles, missing inputs, finished nodes and double stops all come up. */
function randomChange(random: () => number, model: Model, h: Harness, fresh: () => string): Change {
  const ids = [...h.live.state.nodes.keys()];
  const any = (): string => (random() < 0.05 ? 'ghost' : (pick(random, ids) ?? 'ghost'));
  const roll = random();
  if (roll < 0.25) {
    const id = fresh();
    const sources = [...new Set([any(), any()].slice(0, Math.floor(random() * 3)))];
    const requires = sources.filter(() => random() < 0.5);
    if (random() < 0.1) requires.push('nothing');
    const node: ModelNode = { bound: Math.floor(random() * 100), requires, sources: new Set(sources), failures: Math.floor(random() * 2) };
    model.nodes.set(id, node); // its definition; dropped again if the change is refused
    const listeners = random() < 0.3 ? [{ node: any() }] : [];
    return { op: 'add', node: definition(id, node), sources: sources.map((s) => ({ node: s })), listeners };
  }
  if (roll < 0.45) return { op: 'link', from: any(), to: any() };
  if (roll < 0.6) {
    const to = any();
    const linked = [...(h.live.state.nodes.get(to)?.sources ?? [])].map((l) => l.from);
    return { op: 'unlink', from: random() < 0.8 ? (pick(random, linked) ?? any()) : any(), to };
  }
  if (roll < 0.7) return { op: 'remove', node: any() };
  if (roll < 0.8) return { op: 'replace', node: any(), with: { bound: { b: Math.floor(random() * 100) } } };
  if (roll < 0.88) return { op: 'skip', node: any(), result: Math.floor(random() * 100) };
  if (roll < 0.9) return { op: 'retry', node: any() };
  if (roll < 0.95) {
    const node = any();
    const linked = [...(h.live.state.nodes.get(node)?.sources ?? [])].map((l) => l.from);
    return { op: 'relink', node, from: pick(random, linked) ?? any(), to: any() };
  }
  return { op: 'stop' };
}

/** Applies an accepted change to the model, as the engine documents it. */
function applyToModel(model: Model, change: Change): void {
  switch (change.op) {
    case 'add':
      for (const spec of change.listeners ?? []) model.nodes.get(spec.node)?.sources.add(change.node.id);
      return;
    case 'remove':
      model.nodes.delete(change.node);
      for (const node of model.nodes.values()) node.sources.delete(change.node);
      return;
    case 'link':
      model.nodes.get(change.to)?.sources.add(change.from);
      return;
    case 'unlink':
      model.nodes.get(change.to)?.sources.delete(change.from);
      return;
    case 'relink': {
      const node = model.nodes.get(change.node) as ModelNode;
      node.sources.delete(change.from);
      node.sources.add(change.to);
      return;
    }
    case 'replace':
      (model.nodes.get(change.node) as ModelNode).bound = (change.with.bound as JsonObject)['b'] as number;
      return;
    case 'skip':
      model.results.set(change.node, change.result as number);
      model.finished.add(change.node);
      return;
    case 'stop':
      model.stopped = true;
      return;
    default:
      return;
  }
}

/** The engine's graph equals the model's: same nodes, same links, same bound values. */
function expectSameGraph(h: Harness, model: Model): void {
  const engine = Object.fromEntries([...h.live.state.nodes].map(([id, n]) => [id, { bound: n.def.bound['b'], sources: n.sources.map((l) => l.from).sort() }]));
  const expected = Object.fromEntries([...model.nodes].map(([id, n]) => [id, { bound: n.bound, sources: [...n.sources].sort() }]));
  expect(engine).toEqual(expected);
}

/** The inputs the model computes for a node: its bound value and its data sources' recorded results. */
function expectedInputs(model: Model, id: string): JsonObject {
  const node = model.nodes.get(id) as ModelNode;
  const inputs: JsonObject = { b: node.bound };
  for (const from of node.requires) inputs[from] = model.results.get(from) as Json;
  return inputs;
}

/** Drives a random run with random edits; checks the properties of the module doc. */
function drive(seed: number, lists: boolean): void {
  const random = prng(seed);
  const model = randomModel(random);
  const h = new Harness(buildFlow(model));
  let added = 0;
  const fresh = (): string => `x${++added}`;
  const pending: Command[] = [];
  const successes = new Map<string, number>();
  const observe = (commands: Command[]): void => {
    for (const command of commands) {
      if (command.type === 'dispatch') {
        for (const link of h.node(command.node).sources) expect(['succeeded', 'skipped']).toContain(h.node(link.from).status);
        expect(command.inputs).toEqual(expectedInputs(model, command.node));
      }
      if (command.type === 'dispatch' || command.type === 'schedule') pending.push(command);
    }
  };
  observe(h.start().commands);
  for (let guard = 0; ; guard++) {
    if (guard > 3000) throw new Error('the run does not settle');
    if (pending.length === 0) {
      // Halted on nodes that failed for good: retry them by hand, as an operator would.
      const failed = [...h.live.state.nodes.values()].filter((n) => n.status === 'failed').map((n) => n.def.id);
      if (failed.length === 0) break;
      observe(h.change(failed.map((node) => ({ op: 'retry', node }))).commands);
      continue;
    }
    if (random() < 0.3) {
      const modelBefore = structuredClone(model);
      const changes = Array.from({ length: lists ? 1 + Math.floor(random() * 3) : 1 }, () => randomChange(random, model, h, fresh));
      const before = snapshot(h.live);
      const [commands, history, version] = [h.commands.length, h.history.length, h.live.state.graphVersion];
      let out;
      try {
        out = h.change(lists ? changes : (changes[0] as Change));
      } catch {
        expect(snapshot(h.live)).toEqual(before);
        expect([h.commands.length, h.history.length]).toEqual([commands, history]);
        Object.assign(model, modelBefore);
        expectSameGraph(h, model);
        continue;
      }
      expect(h.live.state.graphVersion).toBe(version + 1);
      expect(out.history.filter((e) => e.type === 'change').map((e) => e.graphVersion)).toEqual(changes.map(() => version + 1));
      for (const change of changes) applyToModel(model, change);
      expectSameGraph(h, model);
      observe(out.commands);
      continue;
    }
    const [item] = pending.splice(Math.floor(random() * pending.length), 1) as [Command];
    h.now += 1;
    const event = respond(model, h, item);
    if (event === undefined) continue;
    const out = h.send(event);
    if (event.type === 'task.succeeded' && out.history.some((e) => e.type === 'node.succeeded')) {
      successes.set(event.node, (successes.get(event.node) ?? 0) + 1);
      model.results.set(event.node, event.result as number);
      model.finished.add(event.node);
    }
    observe(out.commands);
  }
  for (const id of model.nodes.keys()) {
    expect(['succeeded', 'skipped']).toContain(h.node(id).status);
    expect(successes.get(id) ?? 0).toBe(h.node(id).status === 'succeeded' ? 1 : 0);
  }
  expect(h.status).toBe('succeeded');
}

/** What a worker (or the timer) answers to a command: failures first, as the model plans, then the sum of the inputs. */
function respond(model: Model, h: Harness, command: Command): EngineEvent | undefined {
  if (command.type === 'schedule') {
    h.now = Math.max(h.now, command.dueAt);
    return { type: 'retry.due', node: command.node, attempt: command.attempt };
  }
  const dispatch = command as DispatchCommand;
  const failures = model.nodes.get(dispatch.node)?.failures ?? 0;
  if (dispatch.attempt <= failures) return { type: 'task.failed', node: dispatch.node, attempt: dispatch.attempt, error: oops };
  const result = Object.values(dispatch.inputs).reduce<number>((sum, v) => sum + (v as number), 1);
  return { type: 'task.succeeded', node: dispatch.node, attempt: dispatch.attempt, result };
}

describe('live edit properties', () => {
  it('single random edits: refused ones leave no trace, accepted ones match the model, every dispatch has the reference inputs', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => drive(seed, false)),
      { numRuns: 100 },
    );
  });

  it('random lists of edits are applied all or nothing, under one graph version', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => drive(seed, true)),
      { numRuns: 100 },
    );
  });
});

/**
 * A persistent listener `register(ip, version)` fed by two events, under random
 * notifications, activation completions, stops, cancels and refused second
 * stops. The reference: each notification while listening is one activation,
 * in order, with its own value and the latest value of the other event; those
 * that wait for the other event form a backlog, and at stop or cancel each is
 * recorded as a `NotDelivered` activation instead of being dropped.
 */
function driveListener(seed: number): void {
  const random = prng(seed);
  const register = task('register', { requires: ['ip', 'version'], apply: () => 0 }).s({}, { persistent: true });
  const h = new Harness(flow('lb').link(event('server.created', { provides: ['ip'] }), register).link(event('config.changed', { provides: ['version'] }), register));
  h.start();
  const latest: { ip?: number; version?: number } = {};
  const backlog: JsonObject[] = [];
  const expected: JsonObject[] = [];
  let notDelivered = 0;
  let ended = false;
  let cancelled = false;
  const running: number[] = [];
  const dispatched = (out: { commands: Command[] }): JsonObject[] =>
    out.commands.filter((c): c is DispatchCommand => c.type === 'dispatch').map((c) => (running.push(c.activation as number), c.inputs));
  const received: JsonObject[] = [];
  for (let i = 0; i < 40; i++) {
    const roll = random();
    if (roll < 0.6) {
      const [name, field] = random() < 0.5 ? (['server.created', 'ip'] as const) : (['config.changed', 'version'] as const);
      const value = i;
      const out = h.notify(name, { [field]: value });
      if (!ended) {
        const other = field === 'ip' ? 'version' : 'ip';
        latest[field] = value;
        const otherValue = latest[other];
        if (otherValue === undefined) backlog.push({ [field]: value });
        else {
          for (const entry of backlog.splice(0)) expected.push({ [other]: otherValue, ...entry, [field]: entry[field] ?? value });
          expected.push({ [field]: value, [other]: otherValue });
        }
      }
      received.push(...dispatched(out));
    } else if (roll < 0.85 && running.length > 0) {
      const [seq] = running.splice(Math.floor(random() * running.length), 1) as [number];
      h.send({ type: 'task.succeeded', node: 'register', attempt: 1, activation: seq, result: seq });
    } else if (roll < 0.95) {
      const op = random() < 0.8 ? 'stop' : 'cancel';
      // stop: once; cancel: once, and not once the run has succeeded (a stopped run may still be cancelled while activations finish).
      const accepted = op === 'stop' ? !ended && !cancelled : !cancelled && h.status !== 'succeeded';
      const before = snapshot(h.live);
      if (!accepted) {
        expect(() => h.change({ op })).toThrow(InvalidChangeError);
        expect(snapshot(h.live)).toEqual(before);
        continue;
      }
      const out = h.change({ op });
      ended = true;
      cancelled ||= op === 'cancel';
      notDelivered += backlog.splice(0).length;
      const dropped = [...out.activations.values()].filter((a) => a.error?.name === 'NotDelivered');
      expect(dropped).toHaveLength(notDelivered);
      notDelivered = 0;
      if (op === 'cancel') running.splice(0);
    }
  }
  // Activations are dispatched in notification order with the reference inputs.
  expect(received).toEqual(expected);
}

describe('live edit properties of persistent listeners', () => {
  it('every notification is one activation with the reference inputs, or recorded as not delivered at stop or cancel', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => driveListener(seed)),
      { numRuns: 200 },
    );
  });
});
