/**
 * The store's SQL, built once per schema as named (prepared) statements: each
 * connection parses and plans a statement once, then only binds parameters.
 *
 * @packageDocumentation
 */
import { fnv1a32 } from '../../model/hash.js';
import { activations } from './sql/activations.js';
import { deleteOutbox } from './sql/delete-outbox.js';
import { claimOutbox, claimShardOutbox } from './sql/claim-outbox.js';
import { clock } from './sql/clock.js';
import { commit } from './sql/commit.js';
import { heartbeat, leave } from './sql/coordinators.js';
import { dueOutbox } from './sql/due-outbox.js';
import { history } from './sql/history.js';
import { countRuns, listRuns } from './sql/list-runs.js';
import { liveRuns } from './sql/live-runs.js';
import { loadRun } from './sql/load-run.js';
import { pruneRuns } from './sql/prune-runs.js';
import { bumpEpoch, readEpochs } from './sql/leader-epochs.js';
import { listeners } from './sql/listeners.js';
import { tasks } from './sql/tasks.js';
import { upsertTasks } from './sql/upsert-tasks.js';
import { deleteSchedule, listSchedules, putSchedule, updateSchedule } from './sql/schedules.js';
import { beatWorker, listWorkers, pruneWorkers, removeWorker } from './sql/workers.js';

const BUILDERS = {
  commit,
  loadRun,
  listRuns,
  countRuns,
  liveRuns,
  listeners,
  history,
  activations,
  dueOutbox,
  claimOutbox,
  claimShardOutbox,
  clock,
  deleteOutbox,
  pruneRuns,
  upsertTasks,
  tasks,
  bumpEpoch,
  readEpochs,
  heartbeat,
  leave,
  beatWorker,
  listWorkers,
  removeWorker,
  pruneWorkers,
  putSchedule,
  listSchedules,
  updateSchedule,
  deleteSchedule,
} satisfies Record<string, (schema: string) => string>;

/** A named statement: `name` identifies the prepared statement on each connection. */
export interface NamedQuery {
  /** Prepared statement name, derived from the text (so two schemas never share one). */
  readonly name: string;
  /** SQL text. */
  readonly text: string;
}

/** Every statement of the store, for one schema. */
export type Queries = { readonly [K in keyof typeof BUILDERS]: NamedQuery };

/** FNV-1a hash of `text`, base 36: short, stable statement names (PostgreSQL truncates names at 63 bytes). */
function hash(text: string): string {
  return fnv1a32(text).toString(36);
}

/** The statements for `quotedSchema` (a schema name already checked and quoted). */
export function buildQueries(quotedSchema: string): Queries {
  const entries = Object.entries(BUILDERS).map(([key, build]) => {
    const text = build(quotedSchema);
    return [key, { name: `tw_${key}_${hash(text)}`, text }] as const;
  });
  return Object.fromEntries(entries) as unknown as Queries;
}
