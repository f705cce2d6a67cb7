/**
 * Checks of graceful closes (`graceful-restart`): a process closed by
 * `shutdown()`, the order of `connect()`'s close, leaves no timer on its clock
 * (`no-timer-after-close`), and, embedded, the results of the tasks it
 * finished reach the store before it exits, so that the next process does not
 * execute them again (`drained-results`; issue 8, defect 7).
 */
import type { Kind } from './options.js';
import type { Execution } from './workload.js';

/** A process that closed gracefully, then exited. */
export interface GracefulExit {
  /** Its name (`app#3`). */
  process: string;
  /** When `shutdown()` began and resolved (simulated epoch ms). */
  closingAt: number;
  closedAt: number;
  /** When its last store call failed (-Infinity: never). */
  storeFailedAt: number;
  /** Delays of the timers still pending on its clock once closed. */
  timers: number[];
}

const executionKey = (e: Execution): string => `${e.kind} of ${e.runId}/${e.node}${e.activation === undefined ? '' : `[${e.activation}]`}#${e.attempt}`;

/** The violations of graceful closes. */
export function checkClosing(exits: readonly GracefulExit[], ledger: readonly Execution[], skip: ReadonlySet<Kind>, embedded: boolean): string[] {
  const problems: string[] = [];
  for (const exit of exits) {
    if (!skip.has('no-timer-after-close') && exit.timers.length > 0) {
      problems.push(`no-timer-after-close: ${exit.process} closed with ${exit.timers.length} timer(s) left on its clock (delays ${exit.timers.join(', ')} ms)`);
    }
    if (!embedded || skip.has('drained-results')) continue;
    // A result of a task the process finished is owed to the store, unless a store
    // call of the process failed since (its step may then have been given up at close).
    for (const done of ledger) {
      if (done.process !== exit.process || done.endedAt === undefined || exit.storeFailedAt >= done.endedAt) continue;
      const again = ledger.find((e) => e.process !== exit.process && e.at >= exit.closedAt && executionKey(e) === executionKey(done));
      if (again !== undefined) {
        const when = done.endedAt - exit.closingAt;
        problems.push(
          `drained-results: ${executionKey(done)} finished ${Math.abs(when)} ms ${when < 0 ? 'before' : 'into'} ${exit.process}'s graceful close (${exit.closedAt - exit.closingAt} ms long), yet ${again.process} executed it again: its result never reached the store`,
        );
      }
    }
  }
  return problems;
}
