/**
 * What `Client.notify` answered against what it did, for one run (defect 3 of
 * issue 8, its last part): a notify that reached only some runs must say
 * which (`PartialNotifyError`, `TW_PARTIAL`: `notified` and `failed`); any
 * other rejection means that no run was notified, unless the answer was
 * unsure (the call cut by a crash, the store failing: `TW_STORE`, or a store
 * outage during the call, when a commit may have been applied and then
 * reported failed).
 */
import type { ActivationState } from '../../src/engine/state.js';
import type { CallRecords } from './checks.js';

/** One `notify` call as the world recorded it. */
export type NotifyRecord = CallRecords['notifies'][number];

/** Whether a call's outcome says nothing for sure about what it did: cut by a crash, never answered, or `TW_STORE` (a commit may have been applied, then reported failed). */
export const unsure = (outcome: string): boolean => outcome === 'cut' || outcome === 'pending' || outcome === 'TW_STORE';

/**
 * The problems of run `runId`, listening to `event` with the persistent
 * listener `listener`, against the answers of the notifies of `event`:
 * `eligible` when nothing (a cancel, a removal, a saga) may have kept a
 * notification told delivered from activating the listener; `refusals`: check
 * too that a notification the caller was told not delivered activated nothing
 * (the check `partial-notify`).
 */
export function notifyAnswers(runId: string, event: string, listener: string, activations: readonly ActivationState[], notifies: readonly NotifyRecord[], options: { eligible: boolean; refusals: boolean }): string[] {
  const problems: string[] = [];
  const activated = (v: number): ActivationState | undefined => activations.find((a) => a.node === listener && (a.inputs as { v?: unknown }).v === v);
  for (const n of notifies) {
    if (n.event !== event) continue;
    const activation = activated(n.v);
    if (n.runIds?.includes(runId) === true) {
      if (options.eligible && activation === undefined) problems.push(`notify of v=${n.v} answered ${n.outcome} with this run notified, but ${listener} has no activation for it`);
      continue;
    }
    if (activation === undefined || !options.refusals) continue;
    const refused = n.failed?.find((f) => f.runId === runId);
    const told = n.outcome === 'TW_PARTIAL' ? (refused === undefined ? 'nothing of this run' : `this run not notified (${refused.code})`) : undefined;
    if (n.outcome === 'ok' || (n.outcome === 'TW_PARTIAL' && (refused === undefined || !unsure(refused.code)))) {
      problems.push(`notify of v=${n.v} answered ${n.outcome}${told === undefined ? ' without this run' : ` with ${told}`}, but it activated ${listener} (activation ${activation.seq})`);
    } else if (n.outcome !== 'TW_PARTIAL' && !unsure(n.outcome) && n.ambiguous !== true) {
      problems.push(`notify of v=${n.v} rejected with ${n.outcome}, not TW_PARTIAL, yet it notified this run (activation ${activation.seq} of ${listener}): its caller cannot tell which runs were notified`);
    }
  }
  return problems;
}
