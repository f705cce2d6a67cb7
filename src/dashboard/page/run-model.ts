/**
 * Keeping the page's copy of a run current from the history stream: a
 * `node.*` entry changes its node's state in place; a graph change, an
 * activation's entry, a failure (for its stack), an unknown entry or a run ending up stalled or failed
 * (whose cycle and missing inputs the server computes) asks for the run to be
 * fetched again. Pure: unit-tested in node.
 *
 * @packageDocumentation
 */
import type { HistoryEntry, NodeView, RunView } from './api-types.js';
import { ENTRY_STATES } from '../../client/entry-states.js';

/** What applying an entry did: changed the copy, needs a fresh copy, or nothing (another run's entry, or an old one). */
export type Applied = 'changed' | 'refetch' | 'ignored';


const UNDO_STATUS: Partial<Record<HistoryEntry['type'], NodeView['undo']>> = {
  'rollback.started': 'running',
  'rollback.succeeded': 'done',
  'rollback.failed': 'failed',
};

/** Applies one history entry of the stream to `run` (in place). */
export function applyEntry(run: RunView, entry: HistoryEntry): Applied {
  if (entry.runId !== run.id) return 'ignored';
  if (entry.graphVersion < run.graphVersion) return 'ignored';
  if (entry.type === 'change' || entry.graphVersion > run.graphVersion || entry.activation !== undefined) return 'refetch';
  if (entry.at > run.updatedAt) run.updatedAt = entry.at;
  if (entry.type === 'run.status') {
    if (entry.status !== undefined) run.status = entry.status;
    return entry.status === 'stalled' || entry.status === 'failed' ? 'refetch' : 'changed';
  }
  if (entry.type === 'run.started' || entry.type === 'run.resumed') return 'ignored';
  const node = entry.node === undefined ? undefined : run.nodes[entry.node];
  const status = ENTRY_STATES[entry.type];
  const undo = UNDO_STATUS[entry.type];
  if (node === undefined || (status === undefined && undo === undefined)) return 'refetch';
  if (undo !== undefined) {
    node.undo = undo;
    return 'changed';
  }
  node.status = status!;
  if (entry.attempt !== undefined) node.attempt = entry.attempt;
  if (status === 'queued') {
    // A new attempt: dispatched, not started.
    node.queuedAt = entry.at;
    delete node.startedAt;
    delete node.finishedAt;
    delete node.waitingFor;
  } else if (status === 'running') node.startedAt = entry.at;
  else if (status !== 'retrying') node.finishedAt = entry.at;
  const detail = entry.detail;
  if (status === 'retrying' && typeof detail?.['message'] === 'string') node.error = { name: typeof detail['name'] === 'string' ? detail['name'] : 'Error', message: detail['message'], retryable: true };
  if (status === 'succeeded') delete node.error;
  // A failure's entry holds its name and message only: the stack comes with the run.
  if (status === 'failed') return 'refetch';
  return 'changed';
}
