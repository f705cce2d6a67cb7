/**
 * Flow-control gates in the SQLite store (tables `gate_waiters`,
 * `gate_permits`, `gate_rates`): an admission is one immediate transaction,
 * so processes sharing the file admit in turn.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import { admissible, gateRefOf as toRef, type Admission, type GateRef, type GateRefRow as RefRow, type GateWaiter, type Gates } from '../gates.js';


/** {@link Gates} on a SQLite database (migrated to the gates' version or later). */
export class SqliteGates implements Gates {
  private readonly insertWaiter: Database.Statement<[{ gate: string; run: string; node: string; attempt: number; priority: number; data: string }]>;
  private readonly deleteWaiter: Database.Statement<[string, string, number]>;
  private readonly deletePermit: Database.Statement<[string, string, number]>;
  private readonly line: Database.Statement<[string], RefRow & { data: string }>;
  private readonly held: Database.Statement<[string], { n: number }>;
  private readonly recent: Database.Statement<[string, number], { at: number }>;
  private readonly pruneRates: Database.Statement<[string, number]>;
  private readonly insertPermit: Database.Statement<[string, string, string, number]>;
  private readonly insertRate: Database.Statement<[string, number]>;
  private readonly gatesWaiting: Database.Statement<[], { gate: string }>;
  private readonly allPermits: Database.Statement<[], RefRow>;
  private readonly waitAll: (waiters: readonly GateWaiter[]) => void;
  private readonly releaseAll: (refs: readonly GateRef[]) => void;
  private readonly admitOne: Database.Transaction<(gate: string, now: number) => Admission>;

  constructor(db: Database.Database) {
    this.insertWaiter = db.prepare(
      `INSERT INTO gate_waiters (gate, run_id, node_id, attempt, priority, data)
       SELECT @gate, @run, @node, @attempt, @priority, @data WHERE NOT EXISTS (SELECT 1 FROM gate_permits WHERE run_id = @run AND node_id = @node AND attempt = @attempt)
       ON CONFLICT (run_id, node_id, attempt) DO NOTHING`,
    );
    this.deleteWaiter = db.prepare(`DELETE FROM gate_waiters WHERE run_id = ? AND node_id = ? AND attempt = ?`);
    this.deletePermit = db.prepare(`DELETE FROM gate_permits WHERE run_id = ? AND node_id = ? AND attempt = ?`);
    this.line = db.prepare(`SELECT gate, run_id, node_id, attempt, data FROM gate_waiters WHERE gate = ? ORDER BY priority DESC, seq`);
    this.held = db.prepare(`SELECT count(*) AS n FROM gate_permits WHERE gate = ?`);
    this.recent = db.prepare(`SELECT at FROM gate_rates WHERE gate = ? AND at > ?`);
    this.pruneRates = db.prepare(`DELETE FROM gate_rates WHERE gate = ? AND at <= ?`);
    this.insertPermit = db.prepare(`INSERT INTO gate_permits (gate, run_id, node_id, attempt) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertRate = db.prepare(`INSERT INTO gate_rates (gate, at) VALUES (?, ?)`);
    this.gatesWaiting = db.prepare(`SELECT DISTINCT gate FROM gate_waiters ORDER BY gate`);
    this.allPermits = db.prepare(`SELECT gate, run_id, node_id, attempt FROM gate_permits`);
    const waitAll = db.transaction((waiters: readonly GateWaiter[]) => {
      for (const w of waiters) this.insertWaiter.run({ gate: w.gate, run: w.runId, node: w.node, attempt: w.attempt, priority: w.priority, data: JSON.stringify(w) });
    });
    this.waitAll = (waiters) => waitAll.immediate(waiters);
    const releaseAll = db.transaction((refs: readonly GateRef[]) => {
      for (const ref of refs) {
        this.deleteWaiter.run(ref.runId, ref.node, ref.attempt);
        this.deletePermit.run(ref.runId, ref.node, ref.attempt);
      }
    });
    this.releaseAll = (refs) => releaseAll.immediate(refs);
    this.admitOne = db.transaction((gate: string, now: number): Admission => {
      const line = this.line.all(gate);
      const first = line[0];
      if (first === undefined) return { admitted: [] };
      const head = JSON.parse(first.data) as GateWaiter;
      let recent: number[] = [];
      if (head.rate !== undefined) {
        const since = now - head.rate.perMs;
        this.pruneRates.run(gate, since);
        recent = this.recent.all(gate, since).map((row) => row.at);
      }
      const { count, retryAt } = admissible(head, (this.held.get(gate) as { n: number }).n, recent, line.length, now);
      const admitted = line.slice(0, count).map(toRef);
      for (const ref of admitted) {
        this.deleteWaiter.run(ref.runId, ref.node, ref.attempt);
        this.insertPermit.run(gate, ref.runId, ref.node, ref.attempt);
        if (head.rate !== undefined) this.insertRate.run(gate, now);
      }
      return retryAt === undefined ? { admitted } : { admitted, retryAt };
    });
  }

  /** @inheritdoc */
  async wait(waiters: readonly GateWaiter[]): Promise<void> {
    if (waiters.length > 0) this.waitAll(waiters);
  }

  /** @inheritdoc */
  async release(refs: readonly GateRef[]): Promise<void> {
    if (refs.length > 0) this.releaseAll(refs);
  }

  /** @inheritdoc */
  async admit(gate: string, now: number): Promise<Admission> {
    return this.admitOne.immediate(gate, now);
  }

  /** @inheritdoc */
  async waiting(): Promise<string[]> {
    return this.gatesWaiting.all().map((row) => row.gate);
  }

  /** @inheritdoc */
  async permits(): Promise<GateRef[]> {
    return this.allPermits.all().map(toRef);
  }
}
