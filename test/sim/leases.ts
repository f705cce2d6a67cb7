/**
 * Long tasks (`long-task`; issue 8, defect 12): a task longer than the broker's
 * consumer timeout is acknowledged early and held by a lease that heartbeats
 * renew. Checks: no consumer timeout fires on a live worker
 * (`consumer-timeout`: a heartbeat that fails is tried again, so the lease is
 * taken), and no lease ends while the execution holding it still runs
 * (`lease-held`: after a coordinator restart or a store outage, the
 * heartbeats are heard before the end of a lease is acted on).
 */
import type { HistoryEntry } from '../../src/engine/events.js';
import type { Store } from '../../src/store/port.js';
import type { Kind } from './options.js';
import type { Execution, Workload } from './workload.js';

/** The broker's consumer timeout of dispatches (RabbitMQ's is 30 min; scaled down as the tasks are). */
export const CONSUMER_TIMEOUT_MS = 2000;

/** The workers' lease options: a long task takes a lease after 300 ms and renews it every 400 ms. */
export const WORKER_LEASE = { leaseAfterMs: 300, leaseMs: 1200 } as const;

/** A heartbeat whose publish the bus refused (`publish-error`): a lease may end for want of it. */
export interface RefusedHeartbeat {
  /** When (simulated epoch ms). */
  at: number;
  /** `<run>/<node>[<activation>]#<attempt>`. */
  ref: string;
}

/** The reference of an execution or a history entry: `<run>/<node>[<activation>]#<attempt>`. */
export const leaseRef = (e: { runId: string; node?: string; activation?: number; attempt?: number }): string =>
  `${e.runId}/${e.node}${e.activation === undefined ? '' : `[${e.activation}]`}#${e.attempt}`;

/** Whether a history entry is the re-dispatch of an attempt whose lease ended (not a new start). */
export const leaseExpired = (entry: HistoryEntry): boolean => entry.type === 'node.queued' && entry.detail?.['reason'] === 'lease expired';

/** The violations of long tasks. */
export async function checkLeases(store: Store, workload: Workload, ledger: readonly Execution[], timeouts: readonly string[], refused: readonly RefusedHeartbeat[], skip: ReadonlySet<Kind>): Promise<string[]> {
  const problems = skip.has('consumer-timeout') ? [] : timeouts.map((what) => `consumer-timeout: ${what}; the broker closed its channel`);
  if (skip.has('lease-held')) return problems;
  for (const plan of workload.runs) {
    for (const entry of await store.history(plan.id, { limit: 1_000_000 })) {
      if (!leaseExpired(entry)) continue;
      const ref = leaseRef(entry);
      // Heartbeats the bus refused within the lease excuse its end (the lease is a third of the way gone per refusal).
      if (refused.some((r) => r.ref === ref && r.at <= entry.at && r.at > entry.at - WORKER_LEASE.leaseMs)) continue;
      // An execution holds the lease once it has heartbeaten for a whole lease (a lease that ends
      // earlier may be that of an execution whose process died, which a younger duplicate does not renew yet).
      const holds = (e: Execution): boolean => e.at + WORKER_LEASE.leaseAfterMs + WORKER_LEASE.leaseMs <= entry.at && e.endedAt !== undefined && e.endedAt >= entry.at;
      const holder = ledger.find((e) => e.kind === 'apply' && leaseRef(e) === ref && holds(e));
      if (holder !== undefined) {
        problems.push(`lease-held: ${ref}: its lease ended (seq ${entry.seq}) while ${holder.process} still executed it (from ${holder.at - entry.at} ms to +${holder.endedAt as number - entry.at} ms): dispatched again`);
      }
    }
  }
  return problems;
}
