/**
 * The invariants, checked once the world is quiet, against a reference model
 * of each run (its plan and the live changes its history says were applied)
 * and against the ledger of what task bodies did.
 */
import type { Json } from '../../src/codec/json.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { ActivationState, NodeState, RunState, RunStatus } from '../../src/engine/state.js';
import { RUN_TRANSITIONS } from '../../src/engine/transitions.js';
import type { Store } from '../../src/store/port.js';
import { deliveryLimitChecks, type DeadLetters } from './dead-letters.js';
import { notifyAnswers } from './notify-answers.js';
import { leaseExpired } from './leases.js';
import type { Kind } from './options.js';
import { downstreamResult, listenerResult, SKIP_VALUE, type Execution, type NodePlan, type RunPlan, type Workload } from './workload.js';

/** A `start` call: how many times it was made, its last outcome (`ok`, `cut` or an error code) and that error's message. */
export interface StartRecord {
  attempts: number;
  outcome: string;
  message?: string;
}

/** What the simulated user asked and was answered. */
export interface CallRecords {
  /** Per run id: its `start` call. */
  starts: Map<string, StartRecord>;
  /** Live changes: the unique actor, what, and the outcome (`ok` or an error code). */
  changes: { actor: string; runId: string; what: string; outcome: string }[];
  /**
   * Notifications, with the runs `notify` said it notified (when it resolved,
   * or rejected with `TW_PARTIAL`: its `notified`), those it said it did not
   * (`TW_PARTIAL`: its `failed`, with their codes), and whether a store outage
   * overlapped the call (a run's commit may have been applied, then reported failed).
   */
  notifies: { event: string; v: number; outcome: string; runIds?: string[]; failed?: { runId: string; code: string }[]; ambiguous?: boolean }[];
}

/** What the checks read. */
export interface CheckInput {
  store: Store;
  workload: Workload;
  ledger: readonly Execution[];
  calls: CallRecords;
  skip: ReadonlySet<Kind>;
  /** Embedded mode: one process, no duplicating bus. */
  embedded: boolean;
  /** The durable bus's dead letters (distributed mode). */
  deadLetters?: DeadLetters;
  /** Largest skew of a process's clock: history times stamped by two processes may go back by up to twice this. */
  skewMs: number;
}

const ALL = { limit: 1_000_000 };

/** A string field of a history entry's detail, or undefined. */
const detailOf = (entry: HistoryEntry, field: string): string | undefined => {
  const value = entry.detail?.[field];
  return typeof value === 'string' ? value : undefined;
};
const OUTCOMES = new Set(['node.succeeded', 'node.failed', 'node.retrying']);
const ENDED: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'stalled', 'rolled_back', 'rollback_failed', 'cancelled', 'listening']);

/** What the checks found: violations, each naming its run, and the histories of the runs concerned. */
export interface CheckReport {
  violations: string[];
  histories: string[];
}

/** One history entry on one line. */
export function describeEntry(e: HistoryEntry): string {
  const ref = e.node === undefined ? '' : ` ${e.node}${e.activation === undefined ? '' : `[${e.activation}]`}${e.attempt === undefined ? '' : `#${e.attempt}`}`;
  const detail = e.detail === undefined ? '' : ` ${JSON.stringify(e.detail)}`;
  return `${String(e.seq).padStart(4)} v${e.graphVersion} ${e.type}${ref}${e.status === undefined ? '' : ` ${e.status}`}${e.actor === undefined ? '' : ` by ${e.actor}`}${detail}`;
}

/** Checks every run of the workload. */
export async function checkWorld(input: CheckInput): Promise<CheckReport> {
  const violations: string[] = [];
  const histories: string[] = [];
  for (const plan of input.workload.runs) {
    const state = await input.store.loadRun(plan.id);
    const start = input.calls.starts.get(plan.id);
    if (state === undefined) {
      if (start?.outcome === 'ok') violations.push(`${plan.id}: start resolved but the store has no such run`);
      continue;
    }
    if (start !== undefined && start.outcome === 'TW_CONFLICT') {
      violations.push(`${plan.id}: start was refused (TW_CONFLICT) on attempt ${start.attempts} though the run exists only because an earlier attempt of the same call created it`);
    }
    const history = await input.store.history(plan.id, ALL);
    const activations = await input.store.activations(plan.id, undefined, ALL);
    const problems = [
      ...liveness(state, activations, input.skip),
      ...wellFormed(state, history, input.skewMs),
      ...recordedOnce(plan.id, history, input.ledger),
      ...(input.embedded && !input.skip.has('once-per-process') ? oncePerProcess(plan.id, input.ledger) : []),
      ...ownRollbacks(plan.id, state, input.ledger),
      ...changesOnce(plan.id, history, input.calls),
      ...outcomes(plan, state, history),
      ...sagaOrder(state, history, input.skip),
      ...notifications(plan, state, history, activations, input),
      ...(input.deadLetters === undefined ? [] : deliveryLimitChecks(plan, state, history, input.deadLetters)),
    ];
    violations.push(...problems.map((p) => `${plan.id}: ${p}`));
    if (problems.length > 0) histories.push(`history of ${plan.id} (${state.status}):`, ...history.map(describeEntry));
  }
  return { violations, histories };
}

/** Every run ends (or listens); nothing is left running with nothing to finish it. */
export function liveness(state: RunState, activations: readonly ActivationState[], skip: ReadonlySet<Kind>): string[] {
  const problems: string[] = [];
  if (!ENDED.has(state.status)) problems.push(`liveness: run is ${state.status} after the faults stopped`);
  for (const node of state.nodes.values()) {
    if (node.status === 'running' || node.status === 'retrying') problems.push(`liveness: node ${node.def.id} is ${node.status} (attempt ${node.attempt})`);
    if (node.undo === 'running' && !(state.status === 'cancelled' && skip.has('rollback-after-cancel'))) problems.push(`liveness: rollback of node ${node.def.id} is running`);
  }
  for (const a of activations) {
    if (a.status === 'running' || a.status === 'retrying') problems.push(`liveness: activation ${a.seq} of ${a.node} is ${a.status} in the store`);
  }
  return problems;
}

/**
 * Sequence numbers contiguous, time (to within the processes' clock skews) and
 * graph versions monotonic, run statuses chained by the transition table.
 */
export function wellFormed(state: RunState, history: readonly HistoryEntry[], skewMs: number): string[] {
  const problems: string[] = [];
  let status: RunStatus = 'running';
  let previous: HistoryEntry | undefined;
  history.forEach((entry, i) => {
    if (entry.seq <= (previous?.seq ?? 0)) problems.push(`history: entry ${i} has seq ${entry.seq} after ${previous?.seq}`);
    if (previous !== undefined && entry.at < previous.at - 2 * skewMs) problems.push(`history: entry seq ${entry.seq} goes back in time`);
    if (previous !== undefined) {
      const step = entry.graphVersion - previous.graphVersion;
      if (step !== (entry.type === 'change' ? 1 : 0)) problems.push(`history: graph version ${previous.graphVersion} -> ${entry.graphVersion} at a ${entry.type} entry (seq ${entry.seq})`);
    }
    if (entry.type === 'run.status') {
      const to = entry.status as RunStatus;
      if (!RUN_TRANSITIONS[status].includes(to)) problems.push(`history: run status ${status} -> ${to} (seq ${entry.seq}) is not a legal transition`);
      status = to;
    }
    previous = entry;
  });
  if (status !== state.status) problems.push(`history: last recorded status ${status}, run row says ${state.status}`);
  if (previous !== undefined && previous.graphVersion !== state.graphVersion) problems.push(`history: last graph version ${previous.graphVersion}, run row says ${state.graphVersion}`);
  return problems;
}

const refKey = (e: { node?: string; attempt?: number; activation?: number }): string => `${e.node}/${e.activation ?? '-'}/${e.attempt}`;

/**
 * No attempt or activation started or recorded twice (per incarnation of a
 * node: a removed node's attempts start again when it is added back), each
 * outcome after its start, and each outcome of a task's work backed by an
 * execution the task body recorded.
 */
export function recordedOnce(runId: string, history: readonly HistoryEntry[], ledger: readonly Execution[]): string[] {
  const problems: string[] = [];
  const executed = new Set(ledger.filter((e) => e.runId === runId && e.kind === 'apply').map(refKey));
  let started = new Map<string, number>();
  let ended = new Map<string, number>();
  /** Attempts whose start a worker reported (`node.started`). */
  const reported = new Set<string>();
  for (const entry of history) {
    if (entry.type === 'change' && detailOf(entry, 'op') === 'remove') {
      const node = detailOf(entry, 'node');
      const keep = (m: Map<string, number>): Map<string, number> => new Map([...m].filter(([k]) => !k.startsWith(`${node}/`)));
      started = keep(started);
      ended = keep(ended);
    }
    if (entry.node === undefined || entry.attempt === undefined) continue;
    const key = refKey(entry);
    if (leaseExpired(entry)) {
      // The same attempt dispatched again (checked by `lease-held` in leases.ts).
      if (!started.has(key)) problems.push(`attempt ${key}: its lease ended (seq ${entry.seq}) before it started`);
      reported.delete(key); // dispatched again: queued until a worker reports it anew
    } else if (entry.type === 'node.queued') {
      started.set(key, (started.get(key) ?? 0) + 1);
      if ((started.get(key) ?? 0) > 1) problems.push(`attempt ${key} started twice (seq ${entry.seq})`);
    } else if (entry.type === 'node.started') {
      // A worker's report of the start: once per attempt, between its dispatch and its outcome.
      if (!started.has(key) || ended.has(key)) problems.push(`attempt ${key}: node.started (seq ${entry.seq}) outside its dispatch and outcome`);
      if (reported.has(key)) problems.push(`attempt ${key}: its start recorded twice (seq ${entry.seq})`);
      reported.add(key);
    } else if (OUTCOMES.has(entry.type)) {
      ended.set(key, (ended.get(key) ?? 0) + 1);
      if ((ended.get(key) ?? 0) > 1) problems.push(`attempt ${key} has two outcomes (second: ${entry.type}, seq ${entry.seq})`);
      if (!started.has(key)) problems.push(`attempt ${key}: ${entry.type} (seq ${entry.seq}) without node.queued`);
      const planned = entry.type === 'node.succeeded' || (detailOf(entry, 'message') ?? '').startsWith('planned failure');
      if (planned && !executed.has(key)) problems.push(`attempt ${key}: ${entry.type} recorded but no task body executed it`);
    }
  }
  return problems;
}

/** Each change call is applied at most once, and a call answered with a validation error was not applied. */
function changesOnce(runId: string, history: readonly HistoryEntry[], calls: CallRecords): string[] {
  const problems: string[] = [];
  const applied = new Map<string, number>();
  for (const entry of history) if (entry.type === 'change' && entry.actor !== undefined) applied.set(entry.actor, (applied.get(entry.actor) ?? 0) + 1);
  for (const call of calls.changes) {
    if (call.runId !== runId) continue;
    const n = applied.get(call.actor) ?? 0;
    if (n > 1) problems.push(`change ${call.actor} (${call.what}) applied ${n} times`);
    if (n > 0 && !['ok', 'TW_STORE', 'cut'].includes(call.outcome)) {
      problems.push(`change ${call.actor} (${call.what}) was applied, but its caller was told ${call.outcome}`);
    }
  }
  return problems;
}

/** Applied changes of a run, from its history. */
function appliedChanges(history: readonly HistoryEntry[]): { op: string; node?: string }[] {
  return history.filter((e) => e.type === 'change').map((e) => {
    const node = detailOf(e, 'node');
    return { op: detailOf(e, 'op') ?? '', ...(node === undefined ? {} : { node }) };
  });
}

interface Expected {
  status: 'succeeded' | 'skipped' | 'failed' | 'waiting';
  result?: Json;
}

/**
 * The reference model: each task node's outcome from its plan and the changes
 * applied (retries give attempts, skips give values, adds and removes change
 * the node set), in topological order.
 */
function reference(plan: RunPlan, history: readonly HistoryEntry[]): Map<string, Expected> {
  const changes = appliedChanges(history);
  const skipped = new Set(history.filter((e) => e.type === 'node.skipped').map((e) => e.node));
  const present = new Set(plan.nodes.map((n) => n.id));
  for (const change of changes) {
    if (change.op === 'remove' && change.node !== undefined) present.delete(change.node);
    if (change.op === 'add' && change.node !== undefined) present.add(change.node);
  }
  const expected = new Map<string, Expected>();
  const nodes: NodePlan[] = [...plan.nodes, ...(plan.spare === undefined ? [] : [plan.spare])];
  for (const node of nodes) {
    if (!present.has(node.id)) continue;
    if (skipped.has(node.id)) {
      expected.set(node.id, { status: 'skipped', result: SKIP_VALUE });
      continue;
    }
    const sources = node.sources.map((s) => ({ ...s, expected: expected.get(s.from) }));
    if (sources.some((s) => s.expected?.status !== 'succeeded' && s.expected?.status !== 'skipped')) {
      expected.set(node.id, { status: 'waiting' });
      continue;
    }
    const retries = changes.filter((c) => c.op === 'retry' && c.node === node.id).length;
    if (node.failures >= node.limit + 1 + retries) {
      expected.set(node.id, { status: 'failed' });
      continue;
    }
    let result = node.bound + node.index;
    for (const s of sources) if (s.data) result += s.expected?.result as number;
    expected.set(node.id, { status: 'succeeded', result });
  }
  return expected;
}

/** Each node's recorded outcome and the run's status are what the reference model says. */
function outcomes(plan: RunPlan, state: RunState, history: readonly HistoryEntry[]): string[] {
  const problems: string[] = [];
  const expected = reference(plan, history);
  const changes = appliedChanges(history);
  const cancelled = changes.some((c) => c.op === 'cancel');
  const stopped = changes.some((c) => c.op === 'stop');
  const saga = plan.policy === 'rollback' && [...expected.values()].some((e) => e.status === 'failed');
  for (const [id, want] of expected) {
    const node = state.nodes.get(id);
    if (node === undefined) {
      problems.push(`node ${id} is missing from the store (expected ${want.status})`);
      continue;
    }
    const gotResult = JSON.stringify(node.result);
    if (node.status === 'succeeded' || node.status === 'skipped') {
      if (want.status !== node.status) problems.push(`node ${id} is ${node.status}, reference ${want.status}`);
      else if (gotResult !== JSON.stringify(want.result)) problems.push(`node ${id} result ${gotResult}, reference ${JSON.stringify(want.result)}`);
      if (saga && !cancelled && node.status === 'succeeded' && node.def.rollback && node.undo !== 'done') problems.push(`node ${id} succeeded with a rollback but was not rolled back (undo ${node.undo})`);
    } else if (saga || cancelled) {
      // In a saga (or once cancelled) a failed attempt is not retried: the node fails if that attempt was planned to fail.
      const planned = [...plan.nodes, ...(plan.spare === undefined ? [] : [plan.spare])].find((n) => n.id === id);
      if (node.status === 'failed' && want.status !== 'failed' && node.attempt > (planned?.failures ?? 0)) problems.push(`node ${id} failed at attempt ${node.attempt}, reference ${want.status}`);
    } else if (node.status !== want.status) {
      problems.push(`node ${id} is ${node.status}, reference ${want.status}${want.result === undefined ? '' : ` with result ${JSON.stringify(want.result)}`}`);
    }
  }
  for (const id of state.nodes.keys()) if (!expected.has(id) && !['ev', 'p', 'q'].includes(id)) problems.push(`node ${id} is in the store but not in the reference`);
  const statuses = [...expected.values()].map((e) => e.status);
  const listening = state.nodes.get('p')?.status === 'listening';
  const want: RunStatus = cancelled
    ? 'cancelled'
    : saga
      ? 'rolled_back'
      : statuses.includes('failed')
        ? 'failed'
        : statuses.includes('waiting')
          ? 'stalled'
          : listening && !stopped
            ? 'listening'
            : 'succeeded';
  if (state.status !== want) problems.push(`run is ${state.status}, reference ${want}`);
  return problems;
}

/**
 * The saga: after it starts no apply starts; completed nodes are rolled back
 * one at a time, latest completion first.
 */
function sagaOrder(state: RunState, history: readonly HistoryEntry[], skip: ReadonlySet<Kind>): string[] {
  const problems: string[] = [];
  const from = history.findIndex((e) => e.type === 'run.status' && (e.status === 'rolling_back' || e.status === 'rolled_back'));
  if (from < 0) return problems;
  let last: NodeState | undefined;
  let open: string | undefined;
  for (const entry of history.slice(from)) {
    // (A lease that ended dispatches the attempt that was running again, as a redelivery would: not a new apply.)
    if (entry.type === 'node.queued' && !leaseExpired(entry) && !(entry.activation !== undefined && skip.has('activation-retry-in-saga'))) {
      problems.push(`saga: node ${entry.node}${entry.activation === undefined ? '' : ` (activation ${entry.activation})`} started (seq ${entry.seq}) after the saga began`);
    }
    if ((entry.type === 'rollback.succeeded' || entry.type === 'rollback.failed') && entry.node === open) open = undefined;
    if (entry.type !== 'rollback.started') continue;
    const node = state.nodes.get(entry.node as string);
    if (node === undefined || node.status !== 'succeeded') continue; // a failed node's own rollback
    if (open !== undefined) problems.push(`saga: rollback of ${node.def.id} started (seq ${entry.seq}) while that of ${open} runs`);
    if (last !== undefined && (node.doneSeq ?? 0) > (last.doneSeq ?? 0)) problems.push(`saga: ${node.def.id} rolled back after ${last.def.id}, which completed later`);
    last = node;
    open = node.def.id;
  }
  return problems;
}

/**
 * Notifications: each activates the listener at most once; one that `notify`
 * reported as delivered to a run that kept its listener activated it exactly
 * once, with the right result; the listener's result is its latest
 * notification's.
 */
function notifications(plan: RunPlan, state: RunState, history: readonly HistoryEntry[], activations: readonly ActivationState[], input: CheckInput): string[] {
  if (plan.listener === undefined) return [];
  const problems: string[] = [];
  const changes = appliedChanges(history);
  const eligible =
    !changes.some((c) => c.op === 'cancel' || (c.op === 'remove' && c.node === 'p')) &&
    !history.some((e) => e.type === 'run.status' && (e.status === 'rolling_back' || e.status === 'rolled_back'));
  const byV = new Map<number, ActivationState[]>();
  for (const a of activations) {
    if (a.node !== 'p') continue;
    const v = (a.inputs as { v: number }).v;
    byV.set(v, [...(byV.get(v) ?? []), a]);
  }
  for (const [v, list] of byV) {
    if (list.length > 1) problems.push(`notification v=${v} activated p ${list.length} times (activations ${list.map((a) => a.seq).join(', ')})`);
    if (!input.calls.notifies.some((n) => n.v === v && n.event === plan.listener?.event)) problems.push(`activation for v=${v}, which no notify of ${plan.listener.event} sent`);
    for (const a of list) {
      if (eligible && a.status !== 'succeeded') problems.push(`activation ${a.seq} (v=${v}) is ${a.status}`);
      if (a.status === 'succeeded' && JSON.stringify(a.result) !== JSON.stringify(listenerResult(v))) problems.push(`activation ${a.seq} (v=${v}) result ${JSON.stringify(a.result)}, reference ${listenerResult(v)}`);
    }
  }
  problems.push(...notifyAnswers(plan.id, plan.listener.event, 'p', activations, input.calls.notifies, { eligible, refusals: !input.skip.has('partial-notify') }));
  if (plan.listener.downstream) problems.push(...downstream(activations, history, eligible));
  const p = state.nodes.get('p');
  if (!input.skip.has('listener-result') && p !== undefined) {
    const latest = activations.filter((a) => a.node === 'p' && a.status === 'succeeded').sort((a, b) => b.seq - a.seq)[0];
    if (latest !== undefined && JSON.stringify(p.result) !== JSON.stringify(latest.result)) {
      problems.push(`p's result ${JSON.stringify(p.result)} is not that of its latest notification (activation ${latest.seq}: ${JSON.stringify(latest.result)})`);
    }
  }
  return problems;
}

/**
 * The listener of the listener: one activation per activation of p that was
 * passed on before the run was stopped, with that activation's value, in the
 * order of p's notifications. An activation of p is passed on once it and
 * every earlier one have finished (results are held back to keep notification
 * order); one still held back at the stop is not passed on (the stop ends q's
 * listening at once).
 */
function downstream(activations: readonly ActivationState[], history: readonly HistoryEntry[], eligible: boolean): string[] {
  const stoppedAt = history.find((e) => e.type === 'change' && detailOf(e, 'op') === 'stop')?.seq ?? Infinity;
  const finishedAt = new Map<number, number>();
  for (const e of history) {
    const final = e.type === 'node.succeeded' || e.type === 'node.failed' || e.type === 'node.cancelled';
    if (final && e.node === 'p' && e.activation !== undefined && !finishedAt.has(e.activation)) finishedAt.set(e.activation, e.seq);
  }
  const passedOnAt = (seq: number): number =>
    Math.max(...activations.filter((a) => a.node === 'p' && a.seq <= seq).map((a) => finishedAt.get(a.seq) ?? Infinity));
  const problems: string[] = [];
  const bySource = new Map<number, ActivationState>();
  for (const a of activations) if (a.node === 'p' && a.status === 'succeeded') bySource.set(a.result as number, a);
  const fed = activations.filter((a) => a.node === 'q').sort((a, b) => a.seq - b.seq);
  const seen = new Set<number>();
  let last: ActivationState | undefined;
  for (const a of fed) {
    const value = (a.inputs as { p: number }).p;
    const source = bySource.get(value);
    if (seen.has(value)) problems.push(`q activated twice for p's value ${value}`);
    seen.add(value);
    if (source === undefined) problems.push(`q activation ${a.seq} has p = ${value}, which no succeeded activation of p produced`);
    if (a.status === 'succeeded' && JSON.stringify(a.result) !== JSON.stringify(downstreamResult(value))) problems.push(`q activation ${a.seq} result ${JSON.stringify(a.result)}, reference ${downstreamResult(value)}`);
    if (source !== undefined && last !== undefined && source.seq < last.seq) {
      problems.push(`q activation ${a.seq} is fed by p's activation ${source.seq}, after q was fed by p's later activation ${last.seq}: not in notification order`);
    }
    if (source !== undefined) last = source;
  }
  if (eligible) {
    for (const [value, source] of bySource) {
      if (!seen.has(value) && passedOnAt(source.seq) < stoppedAt) problems.push(`p's activation ${source.seq} (value ${value}) did not activate q`);
    }
  }
  return problems;
}

/**
 * A node that failed for good and has a rollback had that rollback executed
 * for its last attempt (after a retry by hand too), whatever the policy: a
 * settled `undo` left from an earlier attempt does not count.
 */
function ownRollbacks(runId: string, state: RunState, ledger: readonly Execution[]): string[] {
  const problems: string[] = [];
  for (const node of state.nodes.values()) {
    if (node.status !== 'failed' || !node.def.rollback) continue;
    const ran = ledger.some((e) => e.runId === runId && e.kind === 'rollback' && e.node === node.def.id && e.attempt === node.attempt && e.activation === undefined);
    if (!ran) problems.push(`node ${node.def.id} failed at attempt ${node.attempt}, but its rollback never ran for that attempt (undo ${node.undo})`);
  }
  return problems;
}

/** Embedded: a process executes each attempt (and rollback) at most once. */
function oncePerProcess(runId: string, ledger: readonly Execution[]): string[] {
  const counts = new Map<string, number>();
  for (const e of ledger) {
    if (e.runId !== runId) continue;
    const key = `${e.kind} of ${refKey(e)} by ${e.process}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key}: executed ${n} times by one process`);
}
