/**
 * Colours of the node states on the graph and in the legend, and the state a
 * node is shown in (a rolled-back node is shown so, whatever its apply state).
 *
 * @packageDocumentation
 */
import type { NodeView } from '../api-types.js';

/** The states a node is drawn in. */
export type ShownState = NodeView['status'] | 'rolled back';

/** Fill colour of each shown state. */
export const STATE_COLOURS: Record<ShownState, string> = {
  waiting: '#e5e7eb',
  queued: '#c7d2fe',
  running: '#60a5fa',
  retrying: '#fbbf24',
  succeeded: '#4ade80',
  failed: '#f87171',
  skipped: '#cbd5e1',
  cancelled: '#9ca3af',
  'rolled back': '#c084fc',
  listening: '#22d3ee',
};

/** The state a node is shown in: `rolled back` once its undo is done, its status otherwise. */
export function shownState(node: Pick<NodeView, 'status' | 'undo'> | undefined): ShownState {
  if (node === undefined) return 'waiting';
  return node.undo === 'done' ? 'rolled back' : node.status;
}
