/**
 * The run's status, derived from node counts after every step.
 *
 * @packageDocumentation
 */
import { anyThrottled } from './gates.js';
import type { LiveRun } from './live.js';
import type { RunState, RunStatus } from './state.js';

/** Derives the run status from its indexes (see {@link RunStatus} for the meanings). */
export function deriveStatus(live: LiveRun): RunStatus {
  const { state: run, index } = live;
  const counts = index.counts;
  if (run.cancelled) return 'cancelled';
  if (run.startAt !== undefined) return 'scheduled';
  const active = counts.running + counts.retrying + index.liveActivations + index.undoing;
  if (run.saga) return active > 0 ? 'rolling_back' : index.undoFailed > 0 ? 'rollback_failed' : 'rolled_back';
  if (run.stopped) {
    // Stopped: what still waits (for a notification that can no longer come) stalls the run.
    if (active > 0 || (counts.waiting > 0 && anyThrottled(run.nodes.values()))) return 'stopping';
    return counts.failed > 0 ? 'failed' : counts.waiting > 0 ? 'stalled' : 'succeeded';
  }
  if (active > 0) return 'running';
  // Throttled nodes (waiting at a flow-control gate) will start: not stalled, not failed yet.
  if (counts.waiting > 0 && anyThrottled(run.nodes.values())) return 'running';
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
  // Walk down from listening sources through waiting listeners (iteratively: a
  // long stalled chain must not overflow the stack).
  const reached = new Set<string>();
  const stack: string[] = [];
  for (const node of run.nodes.values()) if (node.status === 'listening') stack.push(node.def.id);
  const listeners = new Map<string, string[]>();
  for (const node of run.nodes.values()) {
    if (node.status !== 'waiting') continue;
    for (const link of node.sources) {
      const list = listeners.get(link.from);
      if (list === undefined) listeners.set(link.from, [node.def.id]);
      else list.push(node.def.id);
    }
  }
  while (stack.length > 0) {
    for (const id of listeners.get(stack.pop() as string) ?? []) {
      if (reached.has(id)) continue;
      reached.add(id);
      stack.push(id);
    }
  }
  return reached.size > 0;
}
