/** @packageDocumentation The SQLite store adapter (`taskwire/sqlite`). */
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { migrate, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
