/**
 * Running work in a transaction on one pooled connection.
 *
 * @packageDocumentation
 */
import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` between BEGIN and COMMIT on one connection; rolls back if it
 * throws. A connection whose rollback failed is destroyed, not reused.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
