/**
 * Small pure parts of a coordinator batch: its events grouped by run, and the
 * metrics of its committed steps.
 *
 * @packageDocumentation
 */
import type { TaskwireMetrics } from '../observability/metrics.js';
import type { Step } from './fencing.js';
import type { Pending } from './pending.js';

/** The events of a batch by run id, each run's in the order they came. */
export function byRunId(batch: readonly Pending[]): Map<string, Pending[]> {
  const byRun = new Map<string, Pending[]>();
  for (const pending of batch) {
    const list = byRun.get(pending.runId);
    if (list === undefined) byRun.set(pending.runId, [pending]);
    else list.push(pending);
  }
  return byRun;
}

/** Records committed steps: events committed and the commit's duration, retries, notifications, runs held. */
export function recordCommitted(metrics: TaskwireMetrics, steps: readonly Step[], durationMs: number, runsHeld: number): void {
  metrics.committed(
    steps.reduce((n, s) => n + s.items.length, 0),
    durationMs,
  );
  for (const { live, out, items } of steps) {
    for (const entry of out.history) {
      if (entry.type === 'node.retrying' && entry.node !== undefined) metrics.taskRetried(live.state.nodes.get(entry.node)?.def.name ?? entry.node);
    }
    for (const item of items) if (item.event.type === 'notify') metrics.notified(item.event.event);
  }
  metrics.setRunsActive(runsHeld);
}
