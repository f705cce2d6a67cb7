/**
 * How the CLI prints runs: plain lines, or JSON with `--json`.
 *
 * @packageDocumentation
 */
import type { ActivationCounts, MapSnapshot, NodeSnapshot, RunSnapshot, ScopeSnapshot } from '../client/snapshot.js';
import type { HistoryEntry } from '../engine/events.js';
import type { SkipReason, UndoStatus } from '../engine/state.js';
import type { Failure } from '../model/failure.js';
import { childName } from '../model/map.js';

const PROGRESS = new Set(['node.throttled', 'gate.admitted', 'node.queued', 'node.started', 'node.succeeded', 'node.failed', 'node.retrying', 'node.skipped', 'node.cancelled', 'rollback.succeeded', 'rollback.failed', 'scope.retrying', 'scope.failed']);

/** Writes a line to standard output. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to standard error (notes that scripts reading stdout should not see). */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** JSON of a value as the CLI prints it: bigints as strings, indented. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** Prints a value as JSON. */
export function printJson(value: unknown): void {
  out(toJson(value));
}

/**
 * What an entry is about: its node, and an activation of it as `node #seq`,
 * or, for a map node (one of `maps`), its child as `node[i]`.
 */
export function entrySubject(entry: HistoryEntry, maps?: ReadonlySet<string>): string {
  const node = entry.node ?? '';
  if (entry.activation === undefined) return node;
  return maps?.has(node) === true ? childName(node, entry.activation) : `${node} #${entry.activation}`;
}

/** The ids of a flow's map nodes (`each`), for {@link entrySubject}. */
export function mapNodes(nodes: readonly { id: string; each?: string }[]): Set<string> {
  return new Set(nodes.filter((node) => node.each !== undefined).map((node) => node.id));
}

/** One progress line per node event (`undefined` for other events); `maps`: the map nodes' ids (their children read `node[i]`). */
export function progressLine(entry: HistoryEntry, maps?: ReadonlySet<string>): string | undefined {
  if (!PROGRESS.has(entry.type)) return undefined;
  const attempt = entry.attempt === undefined ? '' : ` (attempt ${entry.attempt})`;
  const message = entry.type === 'node.skipped' ? skipText(entry.detail) : entry.detail?.['message'];
  const gate = entry.type === 'node.throttled' ? entry.detail?.['gate'] : undefined;
  const detail = typeof message === 'string' && message !== '' ? `: ${message}` : typeof gate === 'string' ? `: at the limit ${gate}` : '';
  return `${entry.type.padEnd(18)} ${entrySubject(entry, maps)}${attempt}${detail}`;
}

/**
 * Why a node was skipped, in words, from its `node.skipped` entry's detail (or
 * its snapshot's `skip`): by conditions (docs/conditions.md), or set aside by a
 * relink. Empty for a skip by hand (no detail).
 */
export function skipText(detail: Readonly<Record<string, unknown>> | SkipReason | undefined): string {
  if (detail === undefined) return '';
  const d = detail as Partial<SkipReason> & { listener?: unknown };
  const reach = d.depth === 'downstream' ? ' (skips downstream)' : '';
  switch (d.reason as string | undefined) {
    case 'condition':
      return `condition false: ${(d.links ?? []).map((l) => `${l.condition} (from ${l.from}${l.skipped === true ? ', skipped' : ''})`).join(', ')}${reach}`;
    case 'upstream':
      return `upstream ${String(d.from)} skipped${reach}`;
    case 'inputs':
      return `a required input's source ${String(d.from)} skipped${reach}`;
    case 'relinked':
      return `relinked away (listener ${String(d.listener)})`;
    default:
      return '';
  }
}

/** Prints the progress line of an entry, if it has one. */
export function printProgress(entry: HistoryEntry, maps?: ReadonlySet<string>): void {
  const line = progressLine(entry, maps);
  if (line !== undefined) out(line);
}

/** Short text of a value for tables. */
export function brief(value: unknown, width = 60): string {
  const text = value === undefined ? '' : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** A duration for people: `850ms`, `2.4s`, `3m05s`, `1h02m`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A time stamp (epoch ms) as ISO 8601 UTC. */
export function time(at: number): string {
  return new Date(at).toISOString();
}

/** How long an execution took from `startedAt` to `finishedAt`, or has been running (with `+`); empty when unknown. */
export function elapsed(startedAt: number | undefined, finishedAt: number | undefined, running: boolean, now = Date.now()): string {
  if (startedAt === undefined) return '';
  if (finishedAt !== undefined && finishedAt >= startedAt) return duration(finishedAt - startedAt);
  return running ? `${duration(now - startedAt)}+` : '';
}

/** An execution's times: when it was queued, started by a worker and finished (epoch ms), and its view status. */
interface Timed {
  status: string;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
}

/**
 * How long an execution (a node's last attempt, an activation) waited in the
 * queue and then ran: `queued 1.4s, ran 400ms`; a `+` on the time still going.
 * Empty parts are left out (a skipped node has neither).
 */
export function timings(view: Timed, now = Date.now()): string {
  const { status, queuedAt, startedAt, finishedAt } = view;
  const queued = status === 'queued' ? elapsed(queuedAt, undefined, true, now) : elapsed(queuedAt, startedAt, false, now);
  const ran = elapsed(startedAt, finishedAt, status === 'running', now);
  return [queued === '' ? '' : `queued ${queued}`, ran === '' ? '' : `ran ${ran}`].filter((s) => s !== '').join(', ');
}

/** The outcome of a node or an activation: `= result` or `error: message (CODE)`, then its rollback state. */
export function outcomeText(view: { result?: unknown; error?: Failure; undo?: UndoStatus; undoError?: Failure }): string {
  const outcome = view.error !== undefined ? `error: ${view.error.message}${view.error.code === undefined ? '' : ` (${view.error.code})`}` : 'result' in view ? `= ${brief(view.result)}` : '';
  const undo = view.undo === undefined ? '' : `[rollback ${view.undo}${view.undoError === undefined ? '' : `: ${view.undoError.message}`}]`;
  return [outcome, undo].filter((s) => s !== '').join(' ');
}

/** Aligns rows of cells into columns (the last column is not padded). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function waitingText(node: NodeSnapshot): string {
  if (node.throttled !== undefined) return `at the limit ${node.throttled}`;
  if (node.waitingFor === undefined) return '';
  const what = [...node.waitingFor.sources, ...node.waitingFor.inputs.map((i) => `input ${i}`)];
  return `waiting for ${what.join(', ') || 'nothing'}`;
}

/** A run's nodes (state, attempts, duration, outcome, what waiting nodes wait for) and results. */
export function printRun(run: RunSnapshot, json: boolean): void {
  if (json) {
    printJson(run);
    return;
  }
  out(`run ${run.id} (${run.flow}) ${run.status}, graph version ${run.graphVersion}`);
  printNodes(Object.values(run.nodes), run.scopes);
  if (run.cycle !== undefined) out(`  stalled on the cycle ${run.cycle.join(' -> ')}`);
  out('results:');
  for (const node of Object.values(run.nodes)) if ('result' in node && node.kind === 'task') out(`  ${node.id} = ${brief(node.result, 200)}`);
}

/** Above this many nodes, `taskwire run` ends with a summary instead of every node and result. */
export const SUMMARY_ABOVE = 20;

/** How many nodes that did not succeed a summary lists before `... and n more`. */
const SUMMARY_ROWS = 20;

/**
 * The end of `taskwire run`: the whole run ({@link printRun}) for a flow of at most
 * {@link SUMMARY_ABOVE} nodes or with `results`; otherwise a summary: the counts by
 * state, the nodes that did not succeed (at most 20), and how to see the rest.
 */
export function printRunEnd(run: RunSnapshot, results: boolean): void {
  const nodes = Object.values(run.nodes);
  if (results || nodes.length <= SUMMARY_ABOVE) return printRun(run, false);
  out(`run ${run.id} (${run.flow}) ${run.status}, graph version ${run.graphVersion}`);
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.status, (counts.get(node.status) ?? 0) + 1);
  out(`  ${nodes.length} nodes: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}`);
  const unsettled = nodes.filter((node) => node.status !== 'succeeded');
  printNodes(unsettled.slice(0, SUMMARY_ROWS));
  if (unsettled.length > SUMMARY_ROWS) out(`  ... and ${unsettled.length - SUMMARY_ROWS} more that did not succeed`);
  if (run.cycle !== undefined) out(`  stalled on the cycle ${run.cycle.join(' -> ')}`);
  const withResults = nodes.filter((node) => 'result' in node && node.kind === 'task').length;
  out(`${withResults} results: \`taskwire show ${run.id}\` lists every node, \`--results\` prints them here`);
}

/** A persistent listener's activation counts: `activations 12 (2 failed, 1 running)`. */
function activationsText(counts: ActivationCounts): string {
  const others = (['failed', 'queued', 'running', 'retrying'] as const).filter((status) => counts[status] > 0);
  const total = counts.succeeded + counts.failed + counts.queued + counts.running + counts.retrying;
  return `activations ${total}${others.length === 0 ? '' : ` (${others.map((status) => `${counts[status]} ${status}`).join(', ')})`}`;
}

/** How many children of a map node `taskwire show` lists (those not done) before `... and n more`. */
const MAP_CHILD_ROWS = 10;

/** A map node's children in one cell: `fan[0..99] 97 succeeded, 3 running` (`fan[] no elements` for an empty list). */
export function mapText(id: string, map: MapSnapshot): string {
  if (map.total === 0) return `${id}[] no elements`;
  const parts = (['succeeded', 'failed', 'queued', 'running', 'retrying', 'pending'] as const).filter((status) => map[status] > 0).map((status) => `${map[status]} ${status}`);
  return `${id}[0..${map.total - 1}] ${parts.join(', ')}`;
}

/** Rows of a map node's children that are not done (at most {@link MAP_CHILD_ROWS}, then a count of the rest). */
function mapChildRows(map: MapSnapshot, indent: string): string[][] {
  const children = Object.entries(map.children);
  const rows = children.slice(0, MAP_CHILD_ROWS).map(([name, child]) => [`${indent}  ${name}`, child.status, `attempts ${child.attempt}`, '', outcomeText(child)]);
  if (children.length > MAP_CHILD_ROWS) rows.push([`${indent}  ... and ${children.length - MAP_CHILD_ROWS} more children not done`, '', '', '', '']);
  return rows;
}

/** The header row of a subflow, before its first node: `pay/ (subflow: attempt 2 of 3, rollback)`. */
function scopeLine(id: string, scope: ScopeSnapshot | undefined): string {
  const depth = id.split('/').length;
  const attempt = scope === undefined ? '' : `attempt ${scope.attempt} of ${scope.retry + 1}, ${scope.onFailure}${scope.compensating ? ', compensating' : ''}`;
  return `${'  '.repeat(depth)}${id}/ (subflow${attempt === '' ? '' : `: ${attempt}`})`;
}

/** Rows of nodes, each subflow's under a header row and indented by its depth (a subflow's nodes are contiguous). */
function printNodes(nodes: NodeSnapshot[], scopes?: Record<string, ScopeSnapshot>): void {
  const rows: string[][] = [];
  const headers = new Map<number, string[]>(); // before row i: the subflows that start there
  const shown = new Set<string>();
  for (const node of nodes) {
    const parts = node.scope?.split('/') ?? [];
    for (let depth = 1; depth <= parts.length; depth++) {
      const scope = parts.slice(0, depth).join('/');
      if (!shown.has(scope)) headers.set(rows.length, [...(headers.get(rows.length) ?? []), scopeLine(scope, scopes?.[scope])]);
      shown.add(scope);
    }
    const kind = node.kind === 'event' ? ' (event)' : node.persistent ? ' (persistent)' : '';
    const indent = '  '.repeat(1 + parts.length);
    const counts = node.map !== undefined ? mapText(node.id, node.map) : node.activations !== undefined ? activationsText(node.activations) : `attempts ${node.attempt}`;
    // A map node's result (the whole list) is in `results:`; its row shows the counts.
    const outcome = node.map !== undefined && node.error === undefined ? '' : outcomeText(node);
    rows.push([`${indent}${node.id}${kind}`, node.throttled === undefined ? node.status : 'throttled', counts, timings(node), [outcome, skipText(node.skip), waitingText(node)].filter((s) => s !== '').join(' ')]);
    if (node.map !== undefined) rows.push(...mapChildRows(node.map, indent));
  }
  table(rows).forEach((line, i) => {
    for (const header of headers.get(i) ?? []) out(header);
    out(line);
  });
}
