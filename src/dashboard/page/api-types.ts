/**
 * The dashboard API's shapes, as the page reads them (the server's contract:
 * docs/dashboard.md). Types only: the page imports nothing else from the engine.
 *
 * @packageDocumentation
 */
import type { CatalogTask } from '../../client/client.js';
import type { NodeSnapshot, NodeViewStatus, RunSnapshot } from '../../client/snapshot.js';
import type { ActivationState, RunStatus } from '../../engine/state.js';
import type { HistoryEntry } from '../../engine/events.js';
import type { RunSummary, WorkerBeat } from '../../store/port.js';
import type { QueueView } from '../server/fleet-routes.js';
import type { GraphLink, GraphNode, GraphView } from '../server/graph-view.js';
import type { DeadLetterView } from '../server/queues.js';

export type { ActivationState, CatalogTask, GraphLink, GraphNode, GraphView, HistoryEntry, QueueView, RunStatus, WorkerBeat };

/** A node's state as the page shows it (`queued` apart from `running`, as every view). */
export type PageNodeStatus = NodeViewStatus;

/** A node of a {@link RunView}: its snapshot (state, attempts, `queuedAt`/`startedAt`/`finishedAt`). */
export type NodeView = NodeSnapshot;

/** `GET /api/runs/:id`: the run's snapshot and its graph. */
export type RunView = Omit<RunSnapshot, 'nodes'> & { nodes: Record<string, NodeView>; graph: GraphView };

/** A row of the runs list. */
export type RunRow = RunSummary & { error?: string };

/** `GET /api/runs`. */
export interface RunsPage {
  /** The runs, newest first. */
  runs: RunRow[];
  /** Cursor of the next page. */
  next?: string;
  /** Runs by status (under the filters other than status). */
  counts: Partial<Record<RunStatus, number>>;
}

/** `GET /api/me`. */
export interface Me {
  /** Token name. */
  name: string;
  /** Role: viewers cannot change anything. */
  role: 'viewer' | 'operator';
  /** Store kind. */
  store: string;
  /** Transport kind. */
  transport: string;
  /** taskwire version. */
  version: string;
}

/** An API error body. */
export interface ApiErrorBody {
  /** Stable error code (`TW_...`). */
  code: string;
  /** Message. */
  message: string;
  /** The nodes concerned. */
  nodes?: string[];
}

/** One change of a change list, as posted (the client's `RunChange`, as JSON: ids for nodes, a task name for `add`). */
export type ChangeJson =
  | { op: 'add'; node: { task: string; id?: string }; sources?: Array<string | { node: string; map?: Record<string, string> }>; listeners?: Array<string | { node: string; map?: Record<string, string> }> }
  | { op: 'remove'; node: string }
  | { op: 'link'; from: string; to: string; map?: Record<string, string> }
  | { op: 'unlink'; from: string; to: string }
  | { op: 'relink'; node: string; from: string; to: string; map?: Record<string, string> }
  | { op: 'replace'; node: string; with: { task: string } }
  | { op: 'retry'; node: string; activation?: number }
  | { op: 'skip'; node: string; result?: unknown }
  | { op: 'cancel' }
  | { op: 'stop' };

/** `GET /api/queues`. */
export interface QueuesView {
  /** Queues with their depth. */
  queues: QueueView[];
  /** Why there are none (embedded transport). */
  note?: string;
}

/** A dead-lettered message (`GET /api/queues/:name/dead`). */
export type DeadMessage = DeadLetterView;
