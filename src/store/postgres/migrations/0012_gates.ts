/**
 * Migration 0012: flow-control gates (docs/flow-control.md): the lines of
 * executions waiting at each gate, the permits held, the recent admissions a
 * rate limit counts.
 *
 * @packageDocumentation
 */

/** Version 12: `gate_waiters`, `gate_permits`, `gate_rates`. */
export const MIGRATION_0012_GATES = {
  version: 12,
  name: 'gates',
  sql: `
CREATE TABLE {{schema}}.gate_waiters (
  seq      bigserial PRIMARY KEY,
  gate     text      NOT NULL,
  run_id   text      NOT NULL,
  node_id  text      NOT NULL,
  attempt  integer   NOT NULL,
  priority integer   NOT NULL,
  data     jsonb     NOT NULL,
  UNIQUE (run_id, node_id, attempt)
);
CREATE INDEX gate_waiters_line ON {{schema}}.gate_waiters (gate, priority DESC, seq);
CREATE TABLE {{schema}}.gate_permits (
  run_id  text    NOT NULL,
  node_id text    NOT NULL,
  attempt integer NOT NULL,
  gate    text    NOT NULL,
  PRIMARY KEY (run_id, node_id, attempt)
);
CREATE INDEX gate_permits_gate ON {{schema}}.gate_permits (gate);
CREATE TABLE {{schema}}.gate_rates (
  gate text   NOT NULL,
  at   bigint NOT NULL
);
CREATE INDEX gate_rates_gate ON {{schema}}.gate_rates (gate, at);
`,
};
