/**
 * Dead letters of the simulated bus, and the invariants of the delivery limit
 * (defects 4 and 18 of issue 8): a task that crashes its worker at every
 * delivery (a poison) ends `failed` with `TW_DELIVERY_LIMIT` after its retries
 * (or `cancelled` by a saga while it waits for a retry), never `running`; no
 * innocent dispatch reaches the delivery limit.
 */
import type { HistoryEntry } from '../../src/engine/events.js';
import type { RunState } from '../../src/engine/state.js';
import type { DispatchMessage } from '../../src/transport/port.js';
import type { RunPlan } from './workload.js';

/** The `worker` field of the failed signals made from dead dispatches. */
export const DEAD_LETTER_WORKER = 'sim/dead-letter';

/** The quarantine queue of work queue `q` is `quarantine.<q>`. */
export const QUARANTINE_PREFIX = 'quarantine.';

/** The simulated broker's delivery limit: returns after which a message is dead-lettered. */
export const SIM_DELIVERY_LIMIT = 5;

/** A message that died in a queue. */
export interface DeadLetter {
  /** Where it died. */
  queue: string;
  /** Why: `delivery_limit` or `rejected`. */
  reason: string;
  /** The message as published. */
  body: unknown;
}

/** Every dead letter of a seed. */
export class DeadLetters {
  /** In the order they died. */
  readonly letters: DeadLetter[] = [];

  /** `signalQueues`: the names of the signal queues (their dead letters are signals, not dispatches). */
  constructor(private readonly signalQueues: ReadonlySet<string>) {}

  /** Records a dead letter. */
  add(letter: DeadLetter): void {
    this.letters.push(letter);
  }

  /** The dispatches that died at the delivery limit of a work or quarantine queue. */
  dispatchesAtLimit(): { queue: string; dispatch: DispatchMessage }[] {
    return this.letters.filter((l) => l.reason === 'delivery_limit' && !this.signalQueues.has(l.queue)).map((l) => ({ queue: l.queue, dispatch: l.body as DispatchMessage }));
  }

}

/** A dispatch or signal in a few words, for the trace. */
export function describeMessage(message: unknown): string {
  const body = message as { type?: string; kind?: string; runId?: string; node?: string; attempt?: number; activation?: number };
  return `${body.type ?? body.kind} ${body.runId}/${body.node}${body.activation === undefined ? '' : `[${body.activation}]`}#${body.attempt}`;
}

/** The delivery limit's invariants for one run (see above). */
export function deliveryLimitChecks(plan: RunPlan, state: RunState, history: readonly HistoryEntry[], dead: DeadLetters): string[] {
  const problems: string[] = [];
  const poisons = new Set(plan.nodes.filter((n) => n.poison === true).map((n) => n.id));
  for (const { queue, dispatch } of dead.dispatchesAtLimit()) {
    if (dispatch.runId !== plan.id || poisons.has(dispatch.node)) continue;
    problems.push(`innocent ${dispatch.kind} of ${dispatch.node}#${dispatch.attempt} reached the delivery limit of queue ${queue} (dead-lettered)`);
  }
  const cancelled = history.some((e) => e.type === 'change' && e.detail?.['op'] === 'cancel');
  const saga = history.some((e) => e.type === 'run.status' && (e.status === 'rolling_back' || e.status === 'rolled_back'));
  for (const id of poisons) {
    const node = state.nodes.get(id);
    if (node === undefined || node.status === 'skipped' || cancelled) continue;
    if (saga && node.status === 'cancelled') continue; // waiting for its retry when the saga began
    if (node.status !== 'failed') {
      problems.push(`poison ${id} is ${node.status} (attempt ${node.attempt}), expected failed with TW_DELIVERY_LIMIT`);
      continue;
    }
    if (node.error?.code !== 'TW_DELIVERY_LIMIT') problems.push(`poison ${id} failed with ${node.error?.code ?? 'no code'} (${node.error?.message}), expected TW_DELIVERY_LIMIT`);
    const limit = plan.nodes.find((n) => n.id === id)?.limit ?? 0;
    if (!saga && node.attempt < limit + 1) problems.push(`poison ${id} failed at attempt ${node.attempt}, before its retries (limit ${limit})`);
  }
  return problems;
}
