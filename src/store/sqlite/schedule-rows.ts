/**
 * Cron schedules in the SQLite store (the `schedules` table): apart from the
 * run statements, which they share nothing with.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import type { ScheduleRow } from '../port.js';

/** The prepared statements of the `schedules` table. */
export class ScheduleRows {
  private readonly insert: Database.Statement<[string, number, string]>;
  private readonly select: Database.Statement<[], { data: string }>;
  private readonly update: Database.Statement<[number, string, string, number]>;
  private readonly delete: Database.Statement<[string]>;

  /** Prepares the statements on `db` (migrated to the version that adds the table, or later). */
  constructor(db: Database.Database) {
    this.insert = db.prepare(`INSERT INTO schedules (name, version, data) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`);
    this.select = db.prepare(`SELECT data FROM schedules ORDER BY name`);
    this.update = db.prepare(`UPDATE schedules SET version = ?, data = ? WHERE name = ? AND version = ?`);
    this.delete = db.prepare(`DELETE FROM schedules WHERE name = ?`);
  }

  /** Adds a schedule unless one of its name exists; whether it was added. */
  put(row: ScheduleRow): boolean {
    return this.insert.run(row.name, row.version, JSON.stringify(row)).changes === 1;
  }

  /** Every schedule, by name. */
  list(): ScheduleRow[] {
    return this.select.all().map((r) => JSON.parse(r.data) as ScheduleRow);
  }

  /** Replaces a schedule stored at `expectedVersion`; whether it did. */
  replace(row: ScheduleRow, expectedVersion: number): boolean {
    return this.update.run(row.version, JSON.stringify(row), row.name, expectedVersion).changes === 1;
  }

  /** Deletes a schedule; whether there was one. */
  remove(name: string): boolean {
    return this.delete.run(name).changes === 1;
  }
}
