/**
 * Property test of flow-control gates at the engine, against a reference
 * gate (a line in priority, then arrival order, and a set of permits): random
 * flows of a limited task (a key with two values, random priorities, random
 * ordering links), then a random interleaving of admissions, outcomes
 * (successes, retryable failures), due retries, duplicate admissions and
 * resumes. At every step the engine's running executions of a gate are those
 * holding its permits (never more than the limit), its throttled nodes are
 * those in the gate's line, and every run ends succeeded with no permit and
 * no place in line left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRun } from '../../src/engine/create.js';
import type { Command, EngineEvent, GateCommand } from '../../src/engine/events.js';
import { liveRun, type LiveRun } from '../../src/engine/live.js';
import { step } from '../../src/engine/step.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import type { Priority } from '../../src/model/flow-control.js';

const LIMIT = 2;
const lim = task('lim', { requires: ['k'], provides: [], limit: { concurrency: LIMIT, key: 'k' }, retry: { limit: 2, initialDelayMs: 10, jitter: 0 }, apply: () => 1 });

interface Shape {
  nodes: { key: 'a' | 'b'; priority: Priority }[];
  links: [number, number][];
}

const shapeArb: fc.Arbitrary<Shape> = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc.record({
    nodes: fc.array(fc.record({ key: fc.constantFrom<'a' | 'b'>('a', 'b'), priority: fc.constantFrom<Priority>('high', 'normal', 'low') }), { minLength: n, maxLength: n }),
    links: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n }),
  }),
);

/** The reference gate: per gate, its line (priority, then arrival) and its permits, keyed `node:attempt`. */
class ReferenceGates {
  private seq = 0;
  readonly lines = new Map<string, { key: string; priority: number; seq: number }[]>();
  readonly permits = new Map<string, Set<string>>();

  apply(commands: readonly Command[]): void {
    for (const c of commands.filter((c): c is GateCommand => c.type === 'gate')) {
      const key = `${c.node}:${c.attempt}`;
      const line = this.lines.get(c.gate) ?? [];
      const permits = this.permits.get(c.gate) ?? new Set();
      this.lines.set(c.gate, line);
      this.permits.set(c.gate, permits);
      if (c.op === 'release') {
        this.lines.set(c.gate, line.filter((w) => w.key !== key));
        permits.delete(key);
      } else if (!permits.has(key) && !line.some((w) => w.key === key)) {
        line.push({ key, priority: c.priority ?? 1, seq: ++this.seq });
      }
    }
  }

  /** Admits what the limit allows at `gate`: the admissions, in order. */
  admit(gate: string): string[] {
    const line = (this.lines.get(gate) ?? []).sort((x, y) => y.priority - x.priority || x.seq - y.seq);
    const permits = this.permits.get(gate) ?? new Set();
    const admitted = line.splice(0, Math.max(0, LIMIT - permits.size)).map((w) => w.key);
    for (const key of admitted) permits.add(key);
    return admitted;
  }
}

type Action = { kind: 'admit' | 'finish' | 'fail' | 'retry' | 'again' | 'resume'; pick: number };
const actionArb: fc.Arbitrary<Action> = fc.record({ kind: fc.constantFrom<Action['kind']>('admit', 'admit', 'finish', 'finish', 'fail', 'retry', 'again', 'resume'), pick: fc.nat(100) });

function check(live: LiveRun, gates: ReferenceGates): void {
  const running = new Map<string, Set<string>>();
  const throttled = new Map<string, Set<string>>();
  for (const node of live.state.nodes.values()) {
    if (node.status === 'running') {
      expect(node.gate, `running node ${node.def.id} holds a permit`).toBeDefined();
      const set = running.get(node.gate as string) ?? new Set();
      set.add(`${node.def.id}:${node.attempt}`);
      running.set(node.gate as string, set);
    }
    if (node.throttled !== undefined) {
      expect(node.status).toBe('waiting');
      const set = throttled.get(node.throttled) ?? new Set();
      set.add(`${node.def.id}:${node.attempt + 1}`);
      throttled.set(node.throttled, set);
    }
  }
  for (const gate of new Set([...gates.permits.keys(), ...running.keys()])) {
    expect([...(running.get(gate) ?? [])].sort(), `gate ${gate}: running = permits`).toEqual([...(gates.permits.get(gate) ?? [])].sort());
    expect(running.get(gate)?.size ?? 0).toBeLessThanOrEqual(LIMIT);
  }
  for (const gate of new Set([...gates.lines.keys(), ...throttled.keys()])) {
    expect([...(throttled.get(gate) ?? [])].sort(), `gate ${gate}: throttled = line`).toEqual((gates.lines.get(gate) ?? []).map((w) => w.key).sort());
  }
}

describe('flow-control gates (property)', () => {
  it('keeps the engine and the gate in step: never more than the limit running, nothing lost, every run ends', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(actionArb, { maxLength: 40 }), (shape, actions) => {
        const flo = flow('gated');
        const nodes = shape.nodes.map((n, i) => lim.s({ k: n.key }, { id: `n${i}`, priority: n.priority }));
        flo.add(...nodes);
        for (const [from, to] of shape.links) if (from < to) flo.link(nodes[from] as (typeof nodes)[number], nodes[to] as (typeof nodes)[number]);
        const live = liveRun(createRun(flo.definition(), { id: 'r', inputs: {}, validate: false, now: 0 }));
        const gates = new ReferenceGates();
        let now = 0;
        const send = (event: EngineEvent, checked = true): void => {
          const out = step(live, event, ++now);
          gates.apply(out.commands);
          if (checked) check(live, gates);
        };
        // The admissions of one admit are stepped one after the other: checked once all are.
        const admitAt = (gate: string): void => {
          for (const key of gates.admit(gate)) {
            const [node, attempt] = key.split(':') as [string, string];
            send({ type: 'gate.admitted', gate, admittedAt: now, node, attempt: Number(attempt) }, false);
          }
          check(live, gates);
        };
        const running = () => [...live.state.nodes.values()].filter((n) => n.status === 'running');
        const retrying = () => [...live.state.nodes.values()].filter((n) => n.status === 'retrying');
        send({ type: 'start' });
        for (const { kind, pick } of actions) {
          const gateNames = [...gates.lines.keys()];
          if (kind === 'admit' && gateNames.length > 0) admitAt(gateNames[pick % gateNames.length] as string);
          const run = running();
          const target = run[pick % Math.max(1, run.length)];
          if ((kind === 'finish' || kind === 'fail') && target !== undefined) {
            const ref = { node: target.def.id, attempt: target.attempt };
            send(kind === 'finish' ? { type: 'task.succeeded', ...ref, result: 1 } : { type: 'task.failed', ...ref, error: { name: 'Error', message: 'oops', retryable: true } });
          }
          if (kind === 'again' && target !== undefined) send({ type: 'gate.admitted', gate: target.gate as string, admittedAt: now, node: target.def.id, attempt: target.attempt });
          const due = retrying()[pick % Math.max(1, retrying().length)];
          if (kind === 'retry' && due !== undefined) send({ type: 'retry.due', node: due.def.id, attempt: due.attempt + 1 });
          if (kind === 'resume') send({ type: 'resume' });
        }
        // Drain: admit everywhere, let everything succeed, fire the retries, until nothing is left.
        for (let round = 0; round < 100 && live.state.status === 'running'; round++) {
          for (const gate of [...gates.lines.keys()]) admitAt(gate);
          for (const node of running()) send({ type: 'task.succeeded', node: node.def.id, attempt: node.attempt, result: 1 });
          for (const node of retrying()) send({ type: 'retry.due', node: node.def.id, attempt: node.attempt + 1 });
        }
        expect(live.state.status).toBe('succeeded');
        for (const line of gates.lines.values()) expect(line).toEqual([]);
        for (const permits of gates.permits.values()) expect(permits.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
