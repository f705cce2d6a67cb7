/**
 * Workers' heartbeat rows in the SQLite store (the `workers` table, schema
 * version 10): apart from the run statements, which they share nothing with.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import type { WorkerBeat } from '../port.js';

/** The prepared statements of the `workers` table. */
export class WorkerRows {
  private readonly upsert: Database.Statement<[string, number, string]>;
  private readonly select: Database.Statement<[number], { data: string }>;
  private readonly delete: Database.Statement<[string]>;
  private readonly deleteOld: Database.Statement<[number]>;

  /** Prepares the statements on `db` (migrated to version 10 or later). */
  constructor(db: Database.Database) {
    this.upsert = db.prepare(`INSERT INTO workers (id, beat_at, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, data = excluded.data`);
    this.select = db.prepare(`SELECT data FROM workers WHERE beat_at >= ? ORDER BY id`);
    this.delete = db.prepare(`DELETE FROM workers WHERE id = ?`);
    this.deleteOld = db.prepare(`DELETE FROM workers WHERE beat_at < ?`);
  }

  /** Adds or replaces a worker's row. */
  beat(beat: WorkerBeat): void {
    this.upsert.run(beat.id, beat.beatAt, JSON.stringify(beat));
  }

  /** The rows that beat at `oldest` or later, by id. */
  list(oldest: number): WorkerBeat[] {
    return this.select.all(oldest).map((row) => JSON.parse(row.data) as WorkerBeat);
  }

  /** Deletes a worker's row. */
  remove(id: string): void {
    this.delete.run(id);
  }

  /** Deletes the rows that last beat before `beatBefore`; returns how many. */
  prune(beatBefore: number): number {
    return this.deleteOld.run(beatBefore).changes;
  }
}
