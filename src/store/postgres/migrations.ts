/**
 * Schema migrations of the PostgreSQL store. Each numbered migration lives in
 * its own file under `migrations/` as an embedded SQL string; applied versions
 * are recorded in `<schema>.taskwire_migrations`.
 *
 * @packageDocumentation
 */
import type { Pool } from 'pg';
import { ConfigError } from '../../errors.js';
import { inTransaction } from './transaction.js';
import { MIGRATION_0001_SCHEMA } from './migrations/0001_schema.js';
import { MIGRATION_0002_TASKS } from './migrations/0002_tasks.js';
import { MIGRATION_0004_LEADER_EPOCHS } from './migrations/0004_leader_epochs.js';
import { MIGRATION_0005_BACKLOG } from './migrations/0005_backlog.js';
import { DEFAULT_SCHEMA, quoteSchema } from './schema-name.js';

/** One schema migration. */
export interface Migration {
  /** Version number, from 1, in order. */
  readonly version: number;
  /** Short name, for the record. */
  readonly name: string;
  /** SQL text; `{{schema}}` stands for the quoted schema name. */
  readonly sql: string;
}

/**
 * Every migration, in version order. A database records each version it
 * applied, and {@link migrate} applies every listed version it lacks, so a
 * version may be missing here for a while (branches merged in another order)
 * and be applied later, after higher ones: migrations never depend on the
 * versions between them.
 */
export const MIGRATIONS: readonly Migration[] = [MIGRATION_0001_SCHEMA, MIGRATION_0002_TASKS, MIGRATION_0004_LEADER_EPOCHS, MIGRATION_0005_BACKLOG];

/** The SQL text of `migration` for `schema` (already quoted). */
export function migrationSql(migration: Migration, quotedSchema: string): string {
  return migration.sql.split('{{schema}}').join(quotedSchema);
}

/** The latest schema version this code knows. */
export const SCHEMA_VERSION: number = Math.max(...MIGRATIONS.map((m) => m.version));

function checkNotNewer(schema: string, applied: ReadonlySet<number>): void {
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new ConfigError(
      `PostgreSQL schema "${schema}" has schema version ${newest}, newer than this taskwire's ${SCHEMA_VERSION}: it was migrated by a newer taskwire; upgrade this process (or use another schema)`,
    );
  }
}

/**
 * Brings the schema `schema` (default `taskwire`) up to date: creates it if
 * needed and applies the migrations it lacks, in one transaction under a
 * transaction-level advisory lock, so that several processes migrating at once
 * are safe (one applies, the others wait and then find nothing to do). Returns
 * the versions it applied (empty when the schema was up to date).
 *
 * @throws ConfigError when `schema` is not a valid name, or when the schema
 *   records a version newer than this code's latest (migrated by a newer
 *   taskwire: its tables may have changed in ways this code cannot read).
 */
export async function migrate(pool: Pool, schema: string = DEFAULT_SCHEMA): Promise<number[]> {
  const quoted = quoteSchema(schema);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`taskwire.migrate:${schema}`]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.taskwire_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${quoted}.taskwire_migrations`);
    const applied = new Set(done.rows.map((row) => row.version));
    checkNotNewer(schema, applied);
    const added: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migrationSql(migration, quoted));
      await client.query(`INSERT INTO ${quoted}.taskwire_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      added.push(migration.version);
    }
    return added;
  });
}
