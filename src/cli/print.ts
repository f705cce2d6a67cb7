/**
 * How the CLI prints runs: plain lines, or JSON with `--json`.
 *
 * @packageDocumentation
 */
import type { RunSnapshot } from '../client/snapshot.js';
import type { HistoryEntry } from '../engine/events.js';

const PROGRESS = new Set(['node.started', 'node.succeeded', 'node.failed', 'node.retrying', 'node.skipped', 'node.cancelled', 'rollback.succeeded', 'rollback.failed']);

/** Writes a line to standard output. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One progress line per node event. */
export function printProgress(entry: HistoryEntry): void {
  if (!PROGRESS.has(entry.type)) return;
  const activation = entry.activation === undefined ? '' : ` #${entry.activation}`;
  const attempt = entry.attempt === undefined ? '' : ` (attempt ${entry.attempt})`;
  const message = entry.detail?.['message'];
  const detail = typeof message === 'string' ? `: ${message}` : '';
  out(`${entry.type.padEnd(18)} ${entry.node ?? ''}${activation}${attempt}${detail}`);
}

/** Short text of a value for tables. */
export function brief(value: unknown, width = 60): string {
  const text = value === undefined ? '' : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** A run's nodes and results. */
export function printRun(run: RunSnapshot, json: boolean): void {
  if (json) {
    out(JSON.stringify(run, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
    return;
  }
  out(`run ${run.id} (${run.flow}) ${run.status}, graph version ${run.graphVersion}`);
  for (const node of Object.values(run.nodes)) {
    const outcome = node.error !== undefined ? `error: ${node.error.message}` : 'result' in node ? `= ${brief(node.result)}` : '';
    const undo = node.undo === undefined ? '' : ` [rollback ${node.undo}${node.undoError === undefined ? '' : `: ${node.undoError.message}`}]`;
    const waiting = node.waitingFor === undefined ? '' : ` waiting for ${[...node.waitingFor.sources, ...node.waitingFor.inputs.map((i) => `input ${i}`)].join(', ') || 'nothing'}`;
    out(`  ${node.id.padEnd(24)} ${node.status.padEnd(10)} attempts ${node.attempt}  ${outcome}${undo}${waiting}`);
  }
  if (run.cycle !== undefined) out(`  stalled on the cycle ${run.cycle.join(' -> ')}`);
  out('results:');
  for (const node of Object.values(run.nodes)) if ('result' in node && node.kind === 'task') out(`  ${node.id} = ${brief(node.result, 200)}`);
}
