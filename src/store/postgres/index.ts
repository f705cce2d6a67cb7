/**
 * The PostgreSQL store adapter (`taskwire/postgres`): runs in a PostgreSQL
 * schema, shared by several coordinators.
 *
 * @packageDocumentation
 */
export { openPostgresStore, PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { migrate, MIGRATIONS, SCHEMA_VERSION, type MigrateOptions, type Migration } from './migrations.js';
export { DEFAULT_SHARDS, MAX_SHARDS } from './shard-count.js';
export { redactUrl } from './redact.js';
export type { Timers } from './lock.js';
