/**
 * The live view of `taskwire run` on a terminal: one status line rewritten in
 * place, with a bar of finished nodes and the count of nodes in each state;
 * failures, retries and rollbacks are kept as lines above it. Off a terminal,
 * `run` prints one plain line per event instead.
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../engine/events.js';
import { mapNodes, progressLine } from './print.js';
import { ENTRY_STATES } from '../client/entry-states.js';


/** Events kept as lines above the status line. */
const KEPT = new Set(['node.failed', 'node.retrying', 'rollback.succeeded', 'rollback.failed']);

const FINISHED = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
const ORDER = ['succeeded', 'running', 'queued', 'retrying', 'waiting', 'listening', 'failed', 'skipped', 'cancelled'];

/** `[#####.....] 5/10`: a bar of `done` out of `total`. */
export function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/** The status line of node states (pure, for tests): `[####......] 2/5  succeeded 2 · running 1 · waiting 2`. */
export function statusLine(states: ReadonlyMap<string, string>): string {
  const counts = new Map<string, number>();
  for (const state of states.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
  const done = [...states.values()].filter((s) => FINISHED.has(s)).length;
  const parts = [...counts.keys()].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)).map((s) => `${s} ${counts.get(s)}`);
  return `${bar(done, states.size)}  ${parts.join(' · ')}`;
}

/** A status line rewritten in place on a TTY stream. */
export class LiveView {
  private readonly states = new Map<string, string>();
  private readonly maps: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    nodes: readonly { id: string; kind: string; persistent: boolean; each?: string }[],
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {
    this.maps = mapNodes(nodes);
    for (const node of nodes) this.states.set(node.id, node.kind === 'event' || node.persistent ? 'listening' : 'waiting');
  }

  /** Takes a history entry of the run. */
  update(entry: HistoryEntry): void {
    const state = ENTRY_STATES[entry.type];
    if (state !== undefined && entry.node !== undefined && entry.activation === undefined) this.states.set(entry.node, state);
    if (entry.type === 'change' && entry.detail?.['op'] === 'add' && typeof entry.detail['node'] === 'string') this.states.set(entry.detail['node'], 'waiting');
    if (KEPT.has(entry.type)) {
      const line = progressLine(entry, this.maps);
      if (line !== undefined) this.write(`${line}\n`);
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, 80);
  }

  /** Draws the status line now. */
  render(): void {
    const line = statusLine(this.states);
    const columns = this.stream.columns;
    const width = columns !== undefined && columns > 10 ? columns : 120;
    this.stream.write(`\r\x1b[2K${line.length > width ? line.slice(0, width - 1) : line}`);
    this.shown = true;
  }

  /** Clears the status line (before the final report). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }

  private write(text: string): void {
    this.stream.write(this.shown ? `\r\x1b[2K${text}` : text);
    this.shown = false;
  }
}
