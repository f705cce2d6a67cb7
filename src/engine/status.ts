/**
 * The run's status, derived from node counts after every step.
 *
 * @packageDocumentation
 */
import type { LiveRun } from './live.js';
import type { NodeState, RunState, RunStatus } from './state.js';

/** Derives the run status from its indexes (see {@link RunStatus} for the meanings). */
export function deriveStatus(live: LiveRun): RunStatus {
  const { state: run, index } = live;
  const counts = index.counts;
  if (run.cancelled) return 'cancelled';
  const active = counts.running + counts.retrying + index.liveActivations + index.undoing;
  if (run.saga) return active > 0 ? 'rolling_back' : 'rolled_back';
  if (run.stopped) {
    // Stopped: what still waits (for a notification that can no longer come) stalls the run.
    if (active > 0) return 'stopping';
    return counts.failed > 0 ? 'failed' : counts.waiting > 0 ? 'stalled' : 'succeeded';
  }
  if (active > 0) return 'running';
  if (counts.failed > 0) return 'failed';
  if (counts.waiting > 0) return awaitsNotification(run) ? 'running' : 'stalled';
  return index.persistent > 0 ? 'listening' : 'succeeded';
}

/**
 * Whether some waiting node waits, directly or through other waiting nodes, for
 * an event or a persistent listener (then the run is waiting, not stalled).
 * Only called when nothing runs, so its cost is not on the hot path.
 */
export function awaitsNotification(run: RunState): boolean {
  const verdict = new Map<string, boolean>();
  const visit = (node: NodeState): boolean => {
    const known = verdict.get(node.def.id);
    if (known !== undefined) return known;
    verdict.set(node.def.id, false); // breaks cycles
    let awaits = false;
    for (const link of node.sources) {
      const source = run.nodes.get(link.from);
      if (source === undefined) continue;
      if (source.status === 'listening' || (source.status === 'waiting' && visit(source))) {
        awaits = true;
        break;
      }
    }
    verdict.set(node.def.id, awaits);
    return awaits;
  };
  for (const node of run.nodes.values()) if (node.status === 'waiting' && visit(node)) return true;
  return false;
}
