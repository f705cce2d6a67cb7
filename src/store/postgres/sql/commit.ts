/**
 * @packageDocumentation A commit batch as one statement: one round trip, atomic
 * on its own (autocommit), with the store's `synchronous_commit` (on).
 *
 * The sub-statements of a `WITH` all see the database as it was when the
 * statement began and run in no set order, except that one reading another's
 * output waits for it. The order the batch needs is made that way:
 *
 * 1. `fence`: the election's epoch, share-locked until the statement ends: an
 *    election's increment waits for a commit in flight, and a commit after it
 *    reads the new epoch (a deposed coordinator's commit cannot slip in after
 *    its successor's election; a row updated after the statement began is
 *    read in its latest version, as `FOR SHARE` does). `gate` reads it first
 *    (true when the fence holds, or none is given), then, only if it holds,
 *    takes the shard locks: a transaction advisory lock per shard of the
 *    batch's runs, in shard order (see below).
 * 2. `inserted`, `updated`: behind the gate, the runs whose plan matches the
 *    stored revision (see `../plan.ts`: one candidate per distinct expected
 *    revision, at most one matches): a run not stored is inserted (`ON
 *    CONFLICT DO NOTHING`: one stored, or created meanwhile, is not), a stored
 *    one is updated when its revision is its plan's; `written` is the runs
 *    written and the revision of their plan. The update writes the `header`
 *    column only for plans that change it (`header` null in `run_rows`: the
 *    stored one is kept), the columns of the fields every step changes always.
 * 3. The deletes of removed nodes, cleared backlogs and released held rows, for written plans;
 *    then, reading the deletes' counts before their first row, the node,
 *    activation, history, outbox, backlog and held writes of written plans, each in
 *    the order of its input (identity `ord` columns record it).
 *
 * A plan not written (stale revision, run taken meanwhile, fence refused)
 * writes nothing.
 *
 * No `SELECT ... FOR UPDATE` of the runs first: `UPDATE ... WHERE t.rev =
 * r.from_rev` is itself the revision check and atomic. The row is locked by
 * the update; a row another transaction updated meanwhile is waited for and
 * its qualification checked again on its latest version (READ COMMITTED's
 * re-check), so of two commits of one run from one revision exactly one
 * matches, the other is a conflict. (A row the statement's snapshot saw at
 * another revision is not re-checked: a commit from the revision another
 * commit in flight is writing is a conflict, reloaded and stepped again. A
 * coordinator commits a run's next step only after the previous commit
 * returned.)
 *
 * Deadlock freedom: every row a commit locks or waits for (runs, nodes,
 * activations, history, backlog rows, keyed by run id; outbox rows are new,
 * their ids carry the revision written) belongs to a run of the batch, so two
 * commits that could wait for each other share a shard and its advisory lock. Each takes its shard locks in shard order before writing
 * any row, after the fence (which waits only for an election's increment,
 * which holds nothing else): the second waits for the first to end before it
 * locks any row. The fenced batches of a coordinator have one shard each: one
 * lock, in memory (no heap write, no WAL record, where `FOR UPDATE` wrote both
 * for every run). The key pair (a hash of the schema, the shard) is apart from
 * the elections' one-key session locks.
 */

/** `jsonb_to_recordset(param)` with `columns`, and `i`: the row's position in the array. */
function recordset(param: string, columns: string): string {
  const names = columns.split(',').map((column) => column.trim().split(/\s+/)[0]);
  return `ROWS FROM (jsonb_to_recordset(${param}::jsonb) AS (${columns})) WITH ORDINALITY AS r(${names.join(', ')}, i)`;
}

/** Rows `r` of written plans (`r.run_id`, `r.from_rev`). */
const OF_WRITTEN = 'JOIN written w ON w.id = r.run_id AND w.from_rev = r.from_rev';

/**
 * `$1 text|null`: the fence's election (null: no fence), `$2 bigint`: its
 * epoch, `$3`..`$12 jsonb`: the run, removed node, node, activation, history,
 * outbox, cleared backlog, backlog, released held and held rows of the plans (see `../rows.ts`;
 * run and outbox rows carry their run's shard, computed by the store).
 * Returns one row: `ok` (false: fenced, nothing written), `epoch` (the
 * election's current epoch, null without a fence or an election), and the
 * `ids` and `from_revs` of the runs written.
 */
export const commit = (s: string): string => `
WITH fence AS MATERIALIZED (
       SELECT epoch FROM ${s}.leader_epochs WHERE $1::text IS NOT NULL AND name = $1::text FOR SHARE),
     run_rows AS MATERIALIZED (
       SELECT * FROM jsonb_to_recordset($3::jsonb) AS r(id text, from_rev integer, shard smallint, flow text, status text, rev integer, graph_version integer,
                                                       created_at bigint, updated_at bigint, seq integer, header jsonb, error text)),
     gate AS MATERIALIZED (
       SELECT ($1::text IS NULL OR EXISTS (SELECT 1 FROM fence WHERE epoch = $2::bigint))
              AND (SELECT count(pg_advisory_xact_lock(hashtext('${s}'), l.shard)) FROM (SELECT DISTINCT shard FROM run_rows ORDER BY shard) l) >= 0 AS ok),
     inserted AS (
       INSERT INTO ${s}.runs (id, shard, flow, status, rev, graph_version, created_at, updated_at, seq, header, error)
       SELECT r.id, r.shard, r.flow, r.status, r.rev, r.graph_version, r.created_at, r.updated_at, r.seq, r.header, r.error
         FROM run_rows r
        WHERE r.from_rev = 0 AND (SELECT ok FROM gate)
        ORDER BY r.id COLLATE "C"
           ON CONFLICT (id) DO NOTHING
       RETURNING id, 0 AS from_rev),
     updated AS (
       UPDATE ${s}.runs AS t
          SET status = r.status, rev = r.rev, graph_version = r.graph_version, updated_at = r.updated_at, seq = r.seq,
              header = coalesce(r.header, t.header), error = coalesce(t.error, r.error)
         FROM run_rows r
        WHERE t.id = r.id AND t.rev = r.from_rev AND r.from_rev > 0 AND (SELECT ok FROM gate)
       RETURNING t.id, r.from_rev),
     written AS MATERIALIZED (SELECT id, from_rev FROM inserted UNION ALL SELECT id, from_rev FROM updated),
     removed AS (
       DELETE FROM ${s}.nodes AS n
        USING ${recordset('$4', 'run_id text, from_rev integer, node_id text')} ${OF_WRITTEN}
        WHERE n.run_id = r.run_id AND n.node_id = r.node_id
       RETURNING 1),
     cleared AS (
       DELETE FROM ${s}.backlog AS b
        USING ${recordset('$9', 'run_id text, from_rev integer, node_id text')} ${OF_WRITTEN}
        WHERE b.run_id = r.run_id AND b.node_id = r.node_id
       RETURNING 1),
     nodes AS (
       INSERT INTO ${s}.nodes (run_id, node_id, kind, name, status, data)
       SELECT r.run_id, r.node_id, r.kind, r.name, r.status, r.data
         FROM ${recordset('$5', 'run_id text, from_rev integer, node_id text, kind text, name text, status text, data jsonb')} ${OF_WRITTEN}
        WHERE (SELECT count(*) FROM removed) >= 0
        ORDER BY r.i
           ON CONFLICT (run_id, node_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, status = excluded.status, data = excluded.data
       RETURNING 1),
     activations AS (
       INSERT INTO ${s}.activations (run_id, node_id, seq, status, data)
       SELECT r.run_id, r.node_id, r.seq, r.status, r.data
         FROM ${recordset('$6', 'run_id text, from_rev integer, node_id text, seq integer, status text, data jsonb')} ${OF_WRITTEN}
        ORDER BY r.i
           ON CONFLICT (run_id, node_id, seq) DO UPDATE SET status = excluded.status, data = excluded.data
       RETURNING 1),
     history AS (
       INSERT INTO ${s}.history (run_id, seq, data)
       SELECT r.run_id, r.seq, r.data
         FROM ${recordset('$7', 'run_id text, from_rev integer, seq integer, data jsonb')} ${OF_WRITTEN}
           ON CONFLICT (run_id, seq) DO NOTHING
       RETURNING 1),
     outbox AS (
       INSERT INTO ${s}.outbox (id, run_id, shard, due_at, data)
       SELECT o.id, o.run_id, o.shard, o.due_at, o.data
         FROM ROWS FROM (jsonb_to_recordset($8::jsonb) AS (id text, run_id text, shard smallint, commit_run text, from_rev integer, due_at bigint, data jsonb))
              WITH ORDINALITY AS o(id, run_id, shard, commit_run, from_rev, due_at, data, i)
         JOIN written w ON w.id = o.commit_run AND w.from_rev = o.from_rev
        ORDER BY o.i
           ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, shard = excluded.shard, due_at = excluded.due_at, data = excluded.data
       RETURNING 1),
     backlog AS (
       INSERT INTO ${s}.backlog (run_id, node_id, seq, data)
       SELECT r.run_id, r.node_id, r.seq, r.data
         FROM ${recordset('$10', 'run_id text, from_rev integer, node_id text, seq integer, data jsonb')} ${OF_WRITTEN}
        WHERE (SELECT count(*) FROM cleared) >= 0
           ON CONFLICT (run_id, node_id, seq) DO NOTHING
       RETURNING 1),
     released AS (
       DELETE FROM ${s}.held AS h
        USING ${recordset('$11', 'run_id text, from_rev integer, node_id text, up_to integer')} ${OF_WRITTEN}
        WHERE h.run_id = r.run_id AND h.node_id = r.node_id AND h.seq <= r.up_to
       RETURNING 1),
     held AS (
       INSERT INTO ${s}.held (run_id, node_id, seq, data)
       SELECT r.run_id, r.node_id, r.seq, r.data
         FROM ${recordset('$12', 'run_id text, from_rev integer, node_id text, seq integer, data jsonb')} ${OF_WRITTEN}
        WHERE (SELECT count(*) FROM released) >= 0
           ON CONFLICT (run_id, node_id, seq) DO NOTHING
       RETURNING 1)
SELECT (SELECT ok FROM gate) AS ok, (SELECT epoch FROM fence) AS epoch,
       coalesce((SELECT array_agg(id) FROM written), '{}') AS ids, coalesce((SELECT array_agg(from_rev) FROM written), '{}') AS from_revs`;
