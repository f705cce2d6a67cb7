/**
 * The node state each history entry of a node's own execution moves it to, as
 * views show states (`queued` apart from `running`): what the CLI's live view,
 * the dashboard's page and its time travel follow. Data only (the page bundles it).
 *
 * @packageDocumentation
 */
import type { HistoryType } from '../engine/events.js';
import type { NodeViewStatus } from './snapshot.js';

/** The state a node's entry (not an activation's) moves it to; other entries move none. */
export const ENTRY_STATES: Readonly<Partial<Record<HistoryType, NodeViewStatus>>> = {
  'node.queued': 'queued',
  'node.started': 'running',
  'node.succeeded': 'succeeded',
  'node.failed': 'failed',
  'node.retrying': 'retrying',
  'node.skipped': 'skipped',
  'node.cancelled': 'cancelled',
};
