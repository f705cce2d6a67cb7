/**
 * The checks of the size scenarios (see `sizes.ts`): the oversized item failed
 * alone, at its producer, with `TW_TOO_LARGE` naming its task, was never
 * retried nor executed when it could not be dispatched, and held back no other.
 */
import type { Json } from '../../src/codec/json.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { ActivationState, NodeState, RunState } from '../../src/engine/state.js';
import type { Store } from '../../src/store/port.js';
import { describeEntry, liveness, recordedOnce, wellFormed, type CallRecords, type StartRecord } from './checks.js';
import { notifyAnswers, unsure } from './notify-answers.js';
import { HALF, SIZE_EVENT, type PayloadSize, type SizeRun, type SizeWorkload } from './sizes.js';
import { SIM_MAX_MESSAGE_BYTES } from './transport.js';
import type { Execution } from './workload.js';

/** What the size checks read. */
export interface SizeCheckInput {
  store: Store;
  sizes: SizeWorkload;
  ledger: readonly Execution[];
  calls: CallRecords;
  /** Largest skew of a process's clock (see `CheckInput.skewMs`). */
  skewMs: number;
}

const ALL = { limit: 1_000_000 };

/** Checks the size runs: the oversized item failed alone, at once, with `TW_TOO_LARGE`; nothing retried it. */
export async function checkSizes(input: SizeCheckInput): Promise<{ violations: string[]; histories: string[] }> {
  const violations: string[] = [];
  const histories: string[] = [];
  for (const run of input.sizes.runs) {
    const state = await input.store.loadRun(run.id);
    const start = input.calls.starts.get(run.id);
    const problems: string[] = [];
    let history: HistoryEntry[] = [];
    if (run.kind === 'oversized-input' || run.kind === 'long-queue-name') {
      problems.push(...refusedStart(run, state, start));
    } else if (state === undefined) {
      if (start?.outcome === 'ok') problems.push('start resolved but the store has no such run');
      else if (run.kind === 'input-at-limit' && start !== undefined && !unsure(start.outcome) && start.outcome !== 'TW_TOO_LARGE') problems.push(`start refused with ${start.outcome}: ${start.message ?? ''}`);
    } else {
      history = await input.store.history(run.id, ALL);
      const activations = await input.store.activations(run.id, undefined, ALL);
      const ledger = input.ledger.filter((e) => e.runId === run.id);
      problems.push(...liveness(state, activations, new Set()), ...wellFormed(state, history, input.skewMs), ...recordedOnce(run.id, history, input.ledger));
      problems.push(...outcome(run, state, history, ledger, activations, input.sizes, input.calls));
    }
    violations.push(...problems.map((p) => `${run.id}: ${p}`));
    if (problems.length > 0 && state !== undefined) histories.push(`history of ${run.id} (${state.status}):`, ...history.map(describeEntry));
  }
  return { violations, histories };
}

/** A start that must be refused: with `TW_TOO_LARGE` naming the task (an oversized input), or at all (a long queue name); no run made. */
function refusedStart(run: SizeRun, state: RunState | undefined, start: StartRecord | undefined): string[] {
  const problems: string[] = [];
  if (state !== undefined) problems.push(`the run exists (${state.status}): its start should have been refused`);
  if (start === undefined || unsure(start.outcome)) return problems;
  if (start.outcome === 'ok') problems.push('start resolved; it should have been refused');
  else if (run.kind === 'oversized-input' && (start.outcome !== 'TW_TOO_LARGE' || !(start.message ?? '').includes('s-input.echo'))) {
    problems.push(`start refused with ${start.outcome} "${start.message ?? ''}", not TW_TOO_LARGE naming task s-input.echo`);
  }
  return problems;
}

/** A node failed with `TW_TOO_LARGE` at attempt 1, never retried (no `node.retrying` entry, no later attempt executed). */
function tooLarge(node: NodeState | undefined, id: string, history: readonly HistoryEntry[], ledger: readonly Execution[]): string[] {
  if (node === undefined) return [`node ${id} is missing`];
  const problems: string[] = [];
  if (node.status !== 'failed' || node.error?.code !== 'TW_TOO_LARGE' || node.error.retryable !== false) {
    const executed = ledger.filter((e) => e.node === id && e.kind === 'apply').length;
    const error = node.error === undefined ? '' : ` (${node.error.code ?? node.error.name}: ${node.error.message.slice(0, 80)})`;
    problems.push(`node ${id} is ${node.status}${error}, executed ${executed} time(s); expected failed with TW_TOO_LARGE, not retryable`);
  } else if (!node.error.message.includes(node.def.name)) problems.push(`node ${id}'s TW_TOO_LARGE error does not name its task ${node.def.name}: ${node.error.message}`);
  if (node.attempt !== 1 || history.some((e) => e.type === 'node.retrying' && e.node === id)) problems.push(`node ${id} was retried (attempt ${node.attempt}): an oversized value fails at once`);
  const later = ledger.filter((e) => e.node === id && e.attempt > 1);
  if (later.length > 0) problems.push(`node ${id}'s attempt ${later[0]?.attempt} was executed: an oversized value fails at once`);
  return problems;
}

/** A node succeeded with `result`. */
function succeeded(node: NodeState | undefined, id: string, result: Json): string[] {
  if (node?.status === 'succeeded' && JSON.stringify(node.result) === JSON.stringify(result)) return [];
  return [`node ${id} is ${node?.status ?? 'missing'}${node?.result === undefined ? '' : ` with a result of ${JSON.stringify(node.result).length} characters`}; expected succeeded with ${JSON.stringify(result).slice(0, 20)}`];
}

/** Each run's expected outcome (see the module doc). */
function outcome(run: SizeRun, state: RunState, history: readonly HistoryEntry[], ledger: readonly Execution[], activations: readonly ActivationState[], sizes: SizeWorkload, calls: CallRecords): string[] {
  const node = (id: string): NodeState | undefined => state.nodes.get(id);
  const status = (want: string): string[] => (state.status === want ? [] : [`run is ${state.status}, expected ${want}`]);
  switch (run.kind) {
    case 'oversized-result': {
      const loud = history.find((e) => e.type === 'node.retrying' && e.node === 'loud');
      const cut = loud === undefined || JSON.stringify(loud.detail ?? {}).length < SIM_MAX_MESSAGE_BYTES ? [] : ['loud failure was recorded whole: an error too large to travel is cut short'];
      // Its own error, cut short: not another failure (a refused signal requeued until the delivery limit).
      const message = loud?.detail?.message;
      if (loud !== undefined && !(typeof message === 'string' && message.startsWith('loud failure'))) {
        cut.push(`loud failed attempt ${loud.attempt ?? '?'} with ${JSON.stringify(loud.detail).slice(0, 120)}..., not its own error cut short`);
      }
      return [...tooLarge(node('big'), 'big', history, ledger), ...succeeded(node('loud'), 'loud', 1), ...cut, ...succeeded(node('ok'), 'ok', 2), ...status('failed')];
    }
    case 'oversized-inputs': {
      const ran = ledger.some((e) => e.node === 'sink') ? ['node sink was executed: its inputs are too large to dispatch'] : [];
      return [...succeeded(node('src'), 'src', 'y'.repeat(HALF)), ...tooLarge(node('sink'), 'sink', history, ledger), ...ran, ...status('failed')];
    }
    case 'oversized-rollback': {
      const keep = node('keep');
      const problems = [...succeeded(keep, 'keep', 'w'.repeat(HALF)), ...status('rollback_failed')];
      if (keep?.undo !== 'failed' || keep.undoError?.code !== 'TW_TOO_LARGE') problems.push(`rollback of keep is ${keep?.undo ?? 'missing'} (${keep?.undoError?.code ?? 'no error'}); expected failed with TW_TOO_LARGE`);
      if (ledger.some((e) => e.node === 'keep' && e.kind === 'rollback')) problems.push('the rollback of keep was executed: its dispatch is too large');
      if (node('boom')?.status !== 'failed') problems.push(`node boom is ${node('boom')?.status ?? 'missing'}, expected failed`);
      return problems;
    }
    case 'input-at-limit':
      return [...succeeded(node('echo'), 'echo', run.pad ?? 0), ...status('succeeded')];
    case 'oversized-notify':
      return [...notifyAnswers(run.id, SIZE_EVENT, 'p', activations, calls.notifies, { eligible: true, refusals: true }), ...listenerRefusals(run.id, activations, ledger, sizes, calls)];
    default:
      return [];
  }
}

/**
 * A listener run of `oversized-notify`: no activation from a notification too
 * large for it (`s-tight` refuses medium and large payloads, `s-roomy` large
 * ones), no execution of one, and no `notify` answer saying it was notified
 * by one.
 */
function listenerRefusals(runId: string, activations: readonly ActivationState[], ledger: readonly Execution[], sizes: SizeWorkload, calls: CallRecords): string[] {
  const problems: string[] = [];
  const tooLargeFor = (size: PayloadSize): boolean => size === 'large' || (size === 'medium' && runId === 's-tight');
  for (const n of sizes.notifications) {
    if (!tooLargeFor(n.size)) continue;
    const activation = activations.find((a) => a.node === 'p' && (a.inputs as { v?: number }).v === n.v);
    if (activation !== undefined) {
      const executed = ledger.some((e) => e.node === 'p' && e.activation === activation.seq);
      problems.push(`the ${n.size} notification v=${n.v} activated p (activation ${activation.seq}, ${activation.status}${executed ? ', executed' : ''}): its dispatch is too large for this run`);
    }
    const answer = calls.notifies.find((c) => c.event === SIZE_EVENT && c.v === n.v);
    if (answer?.runIds?.includes(runId) === true) problems.push(`notify of the ${n.size} payload v=${n.v} answered that this run was notified (${answer.outcome})`);
  }
  return problems;
}
