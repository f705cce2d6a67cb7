/**
 * Migration 0001: the tables of the PostgreSQL store. `{{schema}}` stands for
 * the quoted schema name. Embedded as a string so that it ships with the
 * compiled code (tsc copies no `.sql` files).
 *
 * Every row keeps the whole object as `jsonb` (`header`, `data`); the other
 * columns are copies of the fields the store filters and sorts on. `ord`
 * columns record insertion order (an upsert keeps it), so that nodes,
 * activations and outbox items come back in the order they were first written.
 *
 * @packageDocumentation
 */

/** Version 1: runs, nodes, activations, history and outbox tables and their indexes. */
export const MIGRATION_0001_SCHEMA = {
  version: 1,
  name: 'schema',
  sql: `
CREATE TABLE {{schema}}.runs (
  id            text    PRIMARY KEY,
  flow          text    NOT NULL,
  status        text    NOT NULL,
  rev           integer NOT NULL,
  graph_version integer NOT NULL,
  created_at    bigint  NOT NULL,
  updated_at    bigint  NOT NULL,
  header        jsonb   NOT NULL
);
-- listRuns: newest first, ties by id (descending, code point order as in JS)
CREATE INDEX runs_created_idx ON {{schema}}.runs (created_at DESC, id COLLATE "C" DESC);
-- liveRunIds: runs that are not finished
CREATE INDEX runs_live_idx ON {{schema}}.runs (created_at, id)
  WHERE status NOT IN ('succeeded', 'rolled_back', 'cancelled');

CREATE TABLE {{schema}}.nodes (
  run_id  text   NOT NULL,
  node_id text   NOT NULL,
  kind    text   NOT NULL,
  name    text   NOT NULL,
  status  text   NOT NULL,
  ord     bigint GENERATED ALWAYS AS IDENTITY,
  data    jsonb  NOT NULL,
  PRIMARY KEY (run_id, node_id)
);
-- runsListeningTo: event nodes that are listening, by event name
CREATE INDEX nodes_listening_idx ON {{schema}}.nodes (name, run_id)
  WHERE kind = 'event' AND status = 'listening';

CREATE TABLE {{schema}}.activations (
  run_id  text    NOT NULL,
  node_id text    NOT NULL,
  seq     integer NOT NULL,
  status  text    NOT NULL,
  ord     bigint  GENERATED ALWAYS AS IDENTITY,
  data    jsonb   NOT NULL,
  PRIMARY KEY (run_id, node_id, seq)
);

CREATE TABLE {{schema}}.history (
  run_id text    NOT NULL,
  seq    integer NOT NULL,
  data   jsonb   NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE {{schema}}.outbox (
  id     text   PRIMARY KEY,
  run_id text   NOT NULL,
  due_at bigint NOT NULL,
  ord    bigint GENERATED ALWAYS AS IDENTITY,
  data   jsonb  NOT NULL
);
-- dueOutbox: oldest due first
CREATE INDEX outbox_due_idx ON {{schema}}.outbox (due_at, ord);
`,
} as const;
