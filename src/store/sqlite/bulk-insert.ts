/**
 * Multi-row INSERT statements for the rows of a whole commit batch: a batch
 * stepping a thousand runs writes thousands of node and history rows, and one
 * statement per row costs a call into better-sqlite3, a bind and a reset each
 * (~20 % of a row's cost). Rows are buffered and written by statements of
 * {@link CHUNKS} rows, prepared once.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';

/** Rows per statement, largest first: a batch of n rows takes at most n / 64 + 3 × 3 statements. */
const CHUNKS = [64, 16, 4, 1] as const;

/** A buffered multi-row INSERT into one table; {@link BulkInsert.flush} writes the rows buffered. */
export class BulkInsert {
  private readonly statements: Database.Statement<unknown[]>[];
  private readonly width: number;
  private values: unknown[] = [];

  /**
   * @param db - The database.
   * @param head - The statement up to `VALUES`, e.g. `INSERT INTO t (a, b)`.
   * @param width - Columns per row.
   * @param tail - What follows the rows (an `ON CONFLICT` clause), or ''.
   */
  constructor(db: Database.Database, head: string, width: number, tail = '') {
    const row = `(${Array(width).fill('?').join(', ')})`;
    this.width = width;
    this.statements = CHUNKS.map((n) => db.prepare<unknown[]>(`${head} VALUES ${Array(n).fill(row).join(', ')} ${tail}`));
  }

  /** Buffers one row (its `width` values, in column order). */
  add(...row: unknown[]): void {
    for (const value of row) this.values.push(value);
  }

  /** Writes the rows buffered, in the order they were added, and empties the buffer (also when a statement fails). */
  flush(): void {
    const values = this.values;
    if (values.length === 0) return;
    this.values = [];
    let at = 0;
    for (let c = 0; c < CHUNKS.length; c++) {
      const size = (CHUNKS[c] as number) * this.width;
      const statement = this.statements[c] as Database.Statement<unknown[]>;
      for (; values.length - at >= size; at += size) statement.run(at === 0 && size === values.length ? values : values.slice(at, at + size));
    }
  }

  /** Drops the rows buffered (the batch failed). */
  clear(): void {
    this.values = [];
  }
}
