/**
 * Flow-control gates in process memory (the memory store's {@link Gates}).
 *
 * @packageDocumentation
 */
import { admissible, type Admission, type GateRef, type GateWaiter, type Gates } from '../gates.js';

/** Key of an execution (a gate holds at most one line entry or permit per execution). */
const refKey = (ref: GateRef): string => `${ref.runId}\u0000${ref.node}\u0000${ref.attempt}`;

/** One gate: its line, in order of joining (sorted by priority when admitting), its permits, its recent admissions. */
interface Gate {
  line: Map<string, GateWaiter & { seq: number }>;
  permits: Map<string, GateRef>;
  admissions: number[];
}

/** {@link Gates} in process memory. */
export class MemoryGates implements Gates {
  private readonly gates = new Map<string, Gate>();
  private seq = 0;

  private gate(name: string): Gate {
    let gate = this.gates.get(name);
    if (gate === undefined) this.gates.set(name, (gate = { line: new Map(), permits: new Map(), admissions: [] }));
    return gate;
  }

  /** @inheritdoc */
  async wait(waiters: readonly GateWaiter[]): Promise<void> {
    for (const waiter of waiters) {
      const gate = this.gate(waiter.gate);
      const key = refKey(waiter);
      if (gate.line.has(key) || gate.permits.has(key)) continue;
      gate.line.set(key, { ...waiter, seq: ++this.seq });
    }
  }

  /** @inheritdoc */
  async release(refs: readonly GateRef[]): Promise<void> {
    for (const ref of refs) {
      const gate = this.gates.get(ref.gate);
      if (gate === undefined) continue;
      gate.line.delete(refKey(ref));
      gate.permits.delete(refKey(ref));
      if (gate.line.size === 0 && gate.permits.size === 0 && gate.admissions.length === 0) this.gates.delete(ref.gate);
    }
  }

  /** @inheritdoc */
  async admit(name: string, now: number): Promise<Admission> {
    const gate = this.gates.get(name);
    if (gate === undefined || gate.line.size === 0) return { admitted: [] };
    const line = [...gate.line.values()].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    const head = line[0] as GateWaiter;
    if (head.rate !== undefined) {
      const since = now - head.rate.perMs;
      gate.admissions = gate.admissions.filter((at) => at > since);
    }
    const { count, retryAt } = admissible(head, gate.permits.size, gate.admissions, line.length, now);
    const admitted: GateRef[] = [];
    for (const waiter of line.slice(0, count)) {
      const ref: GateRef = { gate: name, runId: waiter.runId, node: waiter.node, attempt: waiter.attempt };
      gate.line.delete(refKey(ref));
      gate.permits.set(refKey(ref), ref);
      if (head.rate !== undefined) gate.admissions.push(now);
      admitted.push(ref);
    }
    return retryAt === undefined ? { admitted } : { admitted, retryAt };
  }

  /** @inheritdoc */
  async waiting(): Promise<string[]> {
    return [...this.gates].filter(([, gate]) => gate.line.size > 0).map(([name]) => name);
  }

  /** @inheritdoc */
  async permits(): Promise<GateRef[]> {
    return [...this.gates.values()].flatMap((gate) => [...gate.permits.values()].map((ref) => ({ ...ref })));
  }
}
