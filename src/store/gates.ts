/**
 * The store's side of flow-control gates (docs/flow-control.md): the line of
 * executions waiting at each gate (`gate_waiters`), the permits held
 * (`gate_permits`: executions admitted and not yet ended) and the recent
 * admissions a rate limit counts (`gate_rates`). Admitting is atomic per
 * gate across every process sharing the store, so a limit holds across
 * workers and coordinators.
 *
 * @packageDocumentation
 */
import type { RateLimit } from '../model/flow-control.js';

/** An execution at a gate: a node's attempt of a run. */
export interface GateRef {
  /** The gate (see `gateOf` in `engine/gates.ts`). */
  gate: string;
  /** The run. */
  runId: string;
  /** The node. */
  node: string;
  /** The attempt. */
  attempt: number;
}

/** A {@link GateRef} as the SQL stores' rows hold it. */
export interface GateRefRow {
  /** The gate. */
  gate: string;
  /** The run. */
  run_id: string;
  /** The node. */
  node_id: string;
  /** The attempt. */
  attempt: number;
}

/** The {@link GateRef} of a row. */
export const gateRefOf = (row: GateRefRow): GateRef => ({ gate: row.gate, runId: row.run_id, node: row.node_id, attempt: row.attempt });

/** An execution joining a gate's line. */
export interface GateWaiter extends GateRef {
  /** Executions at once through the gate; undefined: no concurrency limit. */
  concurrency?: number;
  /** The gate's rate limit, if any. */
  rate?: RateLimit;
  /** Higher goes first; equal priorities go in the order they joined. */
  priority: number;
}

/** What {@link Gates.admit} did. */
export interface Admission {
  /** The executions admitted (now holding permits), in the line's order. */
  admitted: GateRef[];
  /** When waiters held back by the rate limit may go (epoch ms), if some were. */
  retryAt?: number;
}

/** The gates of a store ({@link Store.gates}). */
export interface Gates {
  /**
   * Puts executions in their gates' lines, at the end of their priority; one
   * already in a line, or holding a permit, is left as it is (idempotent).
   */
  wait(waiters: readonly GateWaiter[]): Promise<void>;
  /** Takes executions out of their lines and gives back their permits (idempotent). */
  release(refs: readonly GateRef[]): Promise<void>;
  /**
   * Admits the first waiters of `gate` (highest priority, then oldest) that
   * its limits allow at `now`: as many as the concurrency limit leaves free
   * (the first waiter's limit counts), within the rate limit (likewise).
   * Atomic per gate, across processes.
   */
  admit(gate: string, now: number): Promise<Admission>;
  /** The gates that have waiters. */
  waiting(): Promise<string[]>;
  /** Every permit held. */
  permits(): Promise<GateRef[]>;
}

/**
 * How many of a gate's waiters may go: `head` (its first waiter) carries the
 * limits, `held` permits are out, `recent` are the admission times of the
 * rate window (any order), `waiting` is the line's length. The stores share it.
 */
export function admissible(head: Pick<GateWaiter, 'concurrency' | 'rate'>, held: number, recent: readonly number[], waiting: number, now: number): { count: number; retryAt?: number } {
  let count = head.concurrency === undefined ? waiting : Math.max(0, Math.min(waiting, head.concurrency - held));
  if (head.rate === undefined) return { count };
  const since = now - head.rate.perMs;
  const inWindow = recent.filter((at) => at > since);
  const free = Math.max(0, head.rate.count - inWindow.length);
  if (free >= count) return { count };
  count = free;
  // The oldest admission in the window leaves it first (one admitted now, if none was there).
  const oldest = inWindow.length === 0 ? now : Math.min(...inWindow);
  return { count, retryAt: oldest + head.rate.perMs };
}
