/**
 * The order in which a process closes its parts (`client.close()` after
 * `connect()`; the simulator's processes close by the same function).
 *
 * @packageDocumentation
 */

/** Something that closes; see {@link shutdown}. */
interface Closable {
  close(): Promise<void>;
}

/** The parts of a process, as {@link connect} wires them; those it does not run are left out. */
export interface ProcessParts {
  /** The schedule ticker: stopped first (no tick starts a run while the rest closes). */
  ticker?: { stop(): Promise<void> };
  /** Resumes under way at connect (embedded): waited for first. */
  resumer?: { settled(): Promise<void> };
  /** Drains first: takes nothing new, lets running tasks finish and hands their signals on. */
  worker?: Closable;
  /** Then takes the signals those tasks sent, finishes its batch, and clears its timers. */
  coordinator: Closable;
  /** Then the connections. */
  transport: Closable;
  store: Closable;
}

/**
 * Closes a process's parts in order: the schedule ticker, resumes under way, then the worker (its
 * running tasks finish and send their results), then the coordinator (it
 * takes the results already sent, finishes the batch in flight, and only then
 * clears its timers), then the transport and the store. Closing the
 * coordinator before the worker's results reach it would leave their nodes
 * `running`, executed again at the next start (issue 8, defect 7).
 *
 * @example
 * await shutdown({ worker, coordinator, transport, store });
 */
export async function shutdown(parts: ProcessParts): Promise<void> {
  await parts.ticker?.stop();
  await parts.resumer?.settled();
  await parts.worker?.close();
  await parts.coordinator.close();
  await parts.transport.close();
  await parts.store.close();
}
