/**
 * Migration 0006: shards. Runs and outbox items carry the shard of their run
 * (`shardOf(runId, shards)`, computed by the store at insert), the schema
 * records the shard count, and live coordinator processes are listed for
 * shard ownership.
 *
 * A schema that already holds runs keeps one shard: its rows are all in
 * shard 0, as the new columns' default says, and one shard makes that true
 * without rehashing them. A new (empty) schema gets {@link DEFAULT_SHARDS};
 * `migrate`'s `shards` option changes the count while the schema has no runs.
 *
 * @packageDocumentation
 */
import { DEFAULT_SHARDS } from '../shard-count.js';

/**
 * Version 6: `taskwire_settings` (the `shards` count), `runs.shard`,
 * `outbox.shard` and the index of claims by shard, and the `coordinators`
 * membership table (one row per live coordinator process, expiring unless
 * its heartbeat renews it).
 */
export const MIGRATION_0006_SHARDS = {
  version: 6,
  name: 'shards',
  sql: `
CREATE TABLE {{schema}}.taskwire_settings (
  key   text  PRIMARY KEY,
  value jsonb NOT NULL
);
INSERT INTO {{schema}}.taskwire_settings (key, value)
SELECT 'shards', to_jsonb(CASE WHEN EXISTS (SELECT 1 FROM {{schema}}.runs) THEN 1 ELSE ${DEFAULT_SHARDS} END);

ALTER TABLE {{schema}}.runs ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE {{schema}}.outbox ADD COLUMN shard smallint NOT NULL DEFAULT 0;
-- claimOutbox of some shards: oldest due first within each
CREATE INDEX outbox_shard_due_idx ON {{schema}}.outbox (shard, due_at, ord);

CREATE TABLE {{schema}}.coordinators (
  member     text        PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  host       text,
  pid        integer,
  started_at timestamptz NOT NULL DEFAULT now()
);
`,
};
