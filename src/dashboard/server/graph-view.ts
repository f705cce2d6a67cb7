/**
 * The graph of a run as the dashboard draws it (`GraphView`): now, and as it
 * was at an earlier graph version, rebuilt by undoing the history's `change`
 * entries newer than that version, newest first.
 *
 * @packageDocumentation
 */
import { decodeValue } from '../../codec/value.js';
import { ENTRY_STATES } from '../../client/entry-states.js';
import type { NodeViewStatus } from '../../client/snapshot.js';
import type { HistoryEntry } from '../../engine/events.js';
import type { RunState } from '../../engine/state.js';

/** A node of a {@link GraphView}. */
export interface GraphNode {
  /** Node id. */
  id: string;
  /** `task` or `event`. */
  kind: 'task' | 'event';
  /** Task or event name (`?` for a node removed later whose task the history does not name). */
  name: string;
  /** Persistent listener. */
  persistent: boolean;
  /** Bound inputs, decoded (left out when none). */
  inputs?: Record<string, unknown>;
  /** The subflow it belongs to (its innermost scope; left out at the top level). */
  scope?: string;
}

/** A link of a {@link GraphView}: `to` listens to `from`. */
export interface GraphLink {
  /** Source node id. */
  from: string;
  /** Listener node id. */
  to: string;
  /** Listener input name → source provided name (left out when none). */
  map?: Record<string, string>;
}

/** A run's graph at one graph version. */
export interface GraphView {
  /** The graph version. */
  version: number;
  /** The nodes, in the run's order. */
  nodes: GraphNode[];
  /** The links. */
  links: GraphLink[];
  /** An earlier version's node states, as they were when the next version came (see {@link statesAt}); the run's own states otherwise. */
  states?: Record<string, NodeViewStatus>;
}


/**
 * The states of `graph`'s nodes at the end of graph version `graph.version`:
 * the history's node entries of that version and earlier replayed, in order,
 * from `waiting` (`listening` for events and persistent listeners).
 */
export function statesAt(graph: GraphView, history: readonly HistoryEntry[]): Record<string, NodeViewStatus> {
  const states: Record<string, NodeViewStatus> = {};
  for (const node of graph.nodes) states[node.id] = node.kind === 'event' || node.persistent ? 'listening' : 'waiting';
  for (const entry of history) {
    if (entry.graphVersion > graph.version) break;
    const state = ENTRY_STATES[entry.type];
    if (state === undefined || entry.node === undefined || entry.activation !== undefined || !(entry.node in states)) continue;
    states[entry.node] = state;
  }
  return states;
}

/** The graph of a run state. */
export function graphView(run: RunState): GraphView {
  const nodes: GraphNode[] = [];
  const links: GraphLink[] = [];
  for (const node of run.nodes.values()) {
    const view: GraphNode = { id: node.def.id, kind: node.def.kind, name: node.def.name, persistent: node.def.persistent };
    if (Object.keys(node.def.bound).length > 0) view.inputs = decodeValue(node.def.bound) as Record<string, unknown>;
    if (node.def.scope !== undefined) view.scope = node.def.scope;
    nodes.push(view);
    for (const link of node.sources) links.push(linkOf(link.from, node.def.id, link.map));
  }
  return { version: run.graphVersion, nodes, links };
}

function linkOf(from: string, to: string, map: Record<string, string> | undefined): GraphLink {
  return map === undefined || Object.keys(map).length === 0 ? { from, to } : { from, to, map: { ...map } };
}

type Detail = Record<string, unknown>;
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const mapOrUndefined = (value: unknown): Record<string, string> | undefined => (typeof value === 'object' && value !== null ? (value as Record<string, string>) : undefined);

/**
 * The graph as it was at graph version `version`: `current` (the graph now)
 * with the `change` entries of `history` made after that version undone,
 * newest first. Each entry records what its change took away (the engine's
 * `describe`: a removed node with its links, an unlinked or relinked link's
 * map, the fields a replace overwrote), so the graph comes back exactly. Bound
 * inputs are shown decoded. Versions before the first or after the current one
 * are refused by the caller.
 */
export function graphAt(current: GraphView, history: readonly HistoryEntry[], version: number): GraphView {
  const nodes = new Map(current.nodes.map((n) => [n.id, { ...n }]));
  let links = current.links.map((l) => ({ ...l }));
  const undo = history.filter((e) => e.type === 'change' && e.detail !== undefined && e.graphVersion > version).reverse();
  const dropLink = (from: string, to: string) => (links = links.filter((l) => !(l.from === from && l.to === to)));
  const addLink = (from: string, to: string, map: unknown) => {
    dropLink(from, to);
    links.push(linkOf(from, to, mapOrUndefined(map)));
  };
  for (const entry of undo) {
    const d = entry.detail as Detail;
    const node = text(d['node']);
    switch (d['op']) {
      case 'add':
        if (node === undefined) break;
        nodes.delete(node);
        links = links.filter((l) => l.from !== node && l.to !== node);
        break;
      case 'remove': {
        const removed = d['removed'] as Detail | undefined;
        if (node === undefined || removed === undefined) break;
        const view: GraphNode = { id: node, kind: removed['kind'] === 'event' ? 'event' : 'task', name: text(removed['name']) ?? '?', persistent: removed['persistent'] === true };
        const bound = mapOrUndefined(removed['bound']);
        if (bound !== undefined && Object.keys(bound).length > 0) view.inputs = decodeValue(bound) as Record<string, unknown>;
        nodes.set(node, view);
        for (const link of (removed['sources'] ?? []) as Detail[]) addLink(String(link['from']), node, link['map']);
        for (const link of (removed['listeners'] ?? []) as Detail[]) addLink(node, String(link['to']), link['map']);
        break;
      }
      case 'link':
        dropLink(String(d['from']), String(d['to']));
        break;
      case 'unlink':
        addLink(String(d['from']), String(d['to']), d['map']);
        break;
      case 'relink':
        if (node === undefined) break;
        dropLink(String(d['to']), node);
        addLink(String(d['from']), node, d['fromMap']);
        break;
      case 'replace': {
        const target = node === undefined ? undefined : nodes.get(node);
        const before = d['before'] as Detail | undefined;
        if (target === undefined || before === undefined) break;
        if (typeof before['name'] === 'string') target.name = before['name'];
        if ('bound' in before) {
          const bound = mapOrUndefined(before['bound']);
          if (bound === undefined || Object.keys(bound).length === 0) delete target.inputs;
          else target.inputs = decodeValue(bound) as Record<string, unknown>;
        }
        break;
      }
      default:
        break;
    }
  }
  return { version, nodes: [...nodes.values()], links };
}
