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
import { MIGRATION_0006_SHARDS } from './migrations/0006_shards.js';
import { MIGRATION_0007_RUN_SEQ } from './migrations/0007_run_seq.js';
import { MIGRATION_0008_HELD } from './migrations/0008_held.js';
import { MIGRATION_0009_WORKERS } from './migrations/0009_workers.js';
import { MIGRATION_0010_RUN_ERROR } from './migrations/0010_run_error.js';
import { MIGRATION_0011_SCHEDULES } from './migrations/0011_schedules.js';
import { MIGRATION_0012_GATES } from './migrations/0012_gates.js';
import { DEFAULT_SCHEMA, quoteSchema } from './schema-name.js';
import { checkShardCount, readShardsSql } from './shard-count.js';

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
export const MIGRATIONS: readonly Migration[] = [
  MIGRATION_0001_SCHEMA,
  MIGRATION_0002_TASKS,
  MIGRATION_0004_LEADER_EPOCHS,
  MIGRATION_0005_BACKLOG,
  MIGRATION_0006_SHARDS,
  MIGRATION_0007_RUN_SEQ,
  MIGRATION_0008_HELD,
  MIGRATION_0009_WORKERS,
  MIGRATION_0010_RUN_ERROR,
  MIGRATION_0011_SCHEDULES,
  MIGRATION_0012_GATES,
];

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

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /**
   * The shard count the schema must have (an integer from 1 to 1024). A new
   * schema gets it; a schema without runs is changed to it; a schema holding
   * runs with another count is refused (its runs are placed by that count).
   * Undefined: keep the schema's count (a new schema gets 16; one migrated
   * to version 6 while it already held runs, 1).
   */
  shards?: number;
}

/** What {@link migrateSchema} did. */
export interface Migrated {
  /** The versions applied (empty when the schema was up to date). */
  applied: number[];
  /** The schema's shard count. */
  shards: number;
}

/**
 * Brings the schema `schema` (default `taskwire`) up to date: creates it if
 * needed and applies the migrations it lacks, in one transaction under a
 * transaction-level advisory lock, so that several processes migrating at once
 * are safe (one applies, the others wait and then find nothing to do); then
 * sets the shard count when `options.shards` asks for another one. Returns
 * the versions it applied (empty when the schema was up to date).
 *
 * @throws ConfigError when `schema` is not a valid name, when the schema
 *   records a version newer than this code's latest (migrated by a newer
 *   taskwire: its tables may have changed in ways this code cannot read),
 *   when `options.shards` is not an integer from 1 to 1024, or when the schema
 *   holds runs and has another shard count than `options.shards`.
 */
export async function migrate(pool: Pool, schema: string = DEFAULT_SCHEMA, options: MigrateOptions = {}): Promise<number[]> {
  return (await migrateSchema(pool, schema, options)).applied;
}

/** What a schema lacks, read without changing anything ({@link pendingMigrations}). */
export interface PendingMigrations {
  /** Whether the schema exists. */
  exists: boolean;
  /** The migrations {@link migrate} would apply, in order. */
  pending: Migration[];
  /** The schema's shard count; undefined before the migration that records it. */
  shards: number | undefined;
}

/**
 * The migrations `schema` lacks and its shard count, read in one read-only
 * transaction (what `taskwire migrate --dry-run` prints).
 *
 * @throws ConfigError as {@link migrate} for a bad name or a schema migrated by a newer taskwire.
 */
export async function pendingMigrations(pool: Pool, schema: string = DEFAULT_SCHEMA): Promise<PendingMigrations> {
  const quoted = quoteSchema(schema);
  const found = await pool.query<{ exists: boolean; migrations: boolean; settings: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists,
            to_regclass($2) IS NOT NULL AS migrations, to_regclass($3) IS NOT NULL AS settings`,
    [schema, `${quoted}.taskwire_migrations`, `${quoted}.taskwire_settings`],
  );
  const { exists = false, migrations = false, settings = false } = found.rows[0] ?? {};
  const applied = new Set(migrations ? (await pool.query<{ version: number }>(`SELECT version FROM ${quoted}.taskwire_migrations`)).rows.map((row) => row.version) : []);
  checkNotNewer(schema, applied);
  const shards = settings ? Number((await pool.query<{ value: unknown }>(readShardsSql(quoted))).rows[0]?.value) : undefined;
  return { exists, pending: MIGRATIONS.filter((m) => !applied.has(m.version)), shards };
}

/** {@link migrate}, also returning the schema's shard count (read in the same transaction). */
export async function migrateSchema(pool: Pool, schema: string = DEFAULT_SCHEMA, options: MigrateOptions = {}): Promise<Migrated> {
  const quoted = quoteSchema(schema);
  if (options.shards !== undefined) checkShardCount(options.shards, 'the `shards` option of migrate');
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
    const stored = Number((await client.query<{ value: unknown }>(readShardsSql(quoted))).rows[0]?.value);
    const shards = options.shards ?? stored;
    if (shards !== stored) {
      const runs = await client.query(`SELECT 1 FROM ${quoted}.runs LIMIT 1`);
      if (runs.rowCount !== 0) {
        throw new ConfigError(
          `PostgreSQL schema "${schema}" has ${stored} shard(s) and already holds runs, placed by that count: it cannot be changed to ${shards} shards (migrate it without --shards, or use another schema)`,
        );
      }
      await client.query(`UPDATE ${quoted}.taskwire_settings SET value = to_jsonb($1::integer) WHERE key = 'shards'`, [shards]);
    }
    return { applied: added, shards };
  });
}
