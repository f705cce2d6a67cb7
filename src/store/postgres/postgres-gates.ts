/**
 * Flow-control gates in the PostgreSQL store (tables of migration 0012): an
 * admission is one transaction under a transaction-level advisory lock of its
 * gate, so coordinators admit at one gate in turn and a limit holds across them.
 *
 * @packageDocumentation
 */
import type { Pool } from 'pg';
import { admissible, gateRefOf as toRef, type Admission, type GateRef, type GateRefRow as RefRow, type GateWaiter, type Gates } from '../gates.js';
import { inTransaction } from './transaction.js';


/** {@link Gates} in a PostgreSQL schema. */
export class PostgresGates implements Gates {
  /** @param s the quoted schema name */
  constructor(
    private readonly pool: Pool,
    private readonly s: string,
  ) {}

  /** @inheritdoc */
  async wait(waiters: readonly GateWaiter[]): Promise<void> {
    if (waiters.length === 0) return;
    await this.pool.query(
      `INSERT INTO ${this.s}.gate_waiters (gate, run_id, node_id, attempt, priority, data)
       SELECT w.gate, w.run_id, w.node_id, w.attempt, w.priority, w.data
         FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::integer[], $6::jsonb[]) WITH ORDINALITY
              AS w(gate, run_id, node_id, attempt, priority, data, ord)
        WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.gate_permits p WHERE p.run_id = w.run_id AND p.node_id = w.node_id AND p.attempt = w.attempt)
        ORDER BY w.ord
       ON CONFLICT (run_id, node_id, attempt) DO NOTHING`,
      [
        waiters.map((w) => w.gate),
        waiters.map((w) => w.runId),
        waiters.map((w) => w.node),
        waiters.map((w) => w.attempt),
        waiters.map((w) => w.priority),
        waiters.map((w) => JSON.stringify(w)),
      ],
    );
  }

  /** @inheritdoc */
  async release(refs: readonly GateRef[]): Promise<void> {
    if (refs.length === 0) return;
    const values = [refs.map((r) => r.runId), refs.map((r) => r.node), refs.map((r) => r.attempt)];
    const match = `(run_id, node_id, attempt) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]))`;
    await this.pool.query(
      `WITH w AS (DELETE FROM ${this.s}.gate_waiters WHERE ${match}) DELETE FROM ${this.s}.gate_permits WHERE ${match}`,
      values,
    );
  }

  /** @inheritdoc */
  admit(gate: string, now: number): Promise<Admission> {
    return inTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`taskwire.gate:${gate}`]);
      const line = (await client.query<RefRow & { data: GateWaiter }>(`SELECT gate, run_id, node_id, attempt, data FROM ${this.s}.gate_waiters WHERE gate = $1 ORDER BY priority DESC, seq`, [gate])).rows;
      const first = line[0];
      if (first === undefined) return { admitted: [] };
      const head = first.data;
      let recent: number[] = [];
      if (head.rate !== undefined) {
        const since = now - head.rate.perMs;
        await client.query(`DELETE FROM ${this.s}.gate_rates WHERE gate = $1 AND at <= $2`, [gate, since]);
        recent = (await client.query<{ at: string }>(`SELECT at FROM ${this.s}.gate_rates WHERE gate = $1`, [gate])).rows.map((row) => Number(row.at));
      }
      const held = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.gate_permits WHERE gate = $1`, [gate])).rows[0]?.n ?? 0);
      const { count, retryAt } = admissible(head, held, recent, line.length, now);
      const admitted = line.slice(0, count).map(toRef);
      if (admitted.length > 0) {
        const values = [admitted.map((r) => r.runId), admitted.map((r) => r.node), admitted.map((r) => r.attempt)];
        await client.query(`DELETE FROM ${this.s}.gate_waiters WHERE (run_id, node_id, attempt) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]))`, values);
        await client.query(
          `INSERT INTO ${this.s}.gate_permits (run_id, node_id, attempt, gate) SELECT r, n, a, $4 FROM unnest($1::text[], $2::text[], $3::integer[]) AS x(r, n, a) ON CONFLICT DO NOTHING`,
          [...values, gate],
        );
        if (head.rate !== undefined) await client.query(`INSERT INTO ${this.s}.gate_rates (gate, at) SELECT $1, $2 FROM generate_series(1, $3)`, [gate, now, admitted.length]);
      }
      return retryAt === undefined ? { admitted } : { admitted, retryAt };
    });
  }

  /** @inheritdoc */
  async waiting(): Promise<string[]> {
    return (await this.pool.query<{ gate: string }>(`SELECT DISTINCT gate FROM ${this.s}.gate_waiters ORDER BY gate`)).rows.map((row) => row.gate);
  }

  /** @inheritdoc */
  async permits(): Promise<GateRef[]> {
    return (await this.pool.query<RefRow>(`SELECT gate, run_id, node_id, attempt FROM ${this.s}.gate_permits`)).rows.map(toRef);
  }
}
