/**
 * The shard count of a PostgreSQL schema: its bounds, its default, and where
 * the schema records it (`taskwire_settings`, key `shards`).
 *
 * @packageDocumentation
 */
import { ConfigError } from '../../errors.js';

/** The shard count of a new schema. */
export const DEFAULT_SHARDS = 16;

/** The largest shard count a schema may have (shards are `smallint` columns, and each has its own election and queue). */
export const MAX_SHARDS = 1024;

/** `shards` when it is a valid shard count (an integer from 1 to {@link MAX_SHARDS}); throws ConfigError naming `what` otherwise. */
export function checkShardCount(shards: number, what: string): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new ConfigError(`${what} must be an integer from 1 to ${MAX_SHARDS}, got ${String(shards)}`);
  }
  return shards;
}

/** The statement reading the shard count of the schema `quotedSchema` (one row, `value`: the count). */
export const readShardsSql = (quotedSchema: string): string => `SELECT value FROM ${quotedSchema}.taskwire_settings WHERE key = 'shards'`;
