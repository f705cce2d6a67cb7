/**
 * Setup and teardown of the PostgreSQL tests: a fresh schema per test, and an
 * administration pool of their own (not the store's).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { requirePostgres } from '../support/services.js';

/** A fresh schema name. */
export const schemaName = (): string => `tw_test_${randomBytes(6).toString('hex')}`;

let admin: pg.Pool | undefined;

/** A pool for setup and teardown (not the store's); end it with {@link endAdminPool}. */
export async function adminPool(): Promise<pg.Pool> {
  admin ??= new pg.Pool({ connectionString: await requirePostgres(), max: 4 });
  return admin;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await (await adminPool()).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Ends the administration pool (in `afterAll`). */
export async function endAdminPool(): Promise<void> {
  await admin?.end();
  admin = undefined;
}
