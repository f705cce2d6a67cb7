/**
 * The graph of a run as the dashboard draws it (`GraphView`): now, and as it
 * was at an earlier graph version, rebuilt by undoing the history's `change`
 * entries newer than that version, newest first.
 *
 * @packageDocumentation
 */
import { decodeValue } from '../../codec/value.js';
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
}

/** The graph of a run state. */
export function graphView(run: RunState): GraphView {
  const nodes: GraphNode[] = [];
  const links: GraphLink[] = [];
  for (const node of run.nodes.values()) {
    const view: GraphNode = { id: node.def.id, kind: node.def.kind, name: node.def.name, persistent: node.def.persistent };
    if (Object.keys(node.def.bound).length > 0) view.inputs = decodeValue(node.def.bound) as Record<string, unknown>;
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

/**
 * The graph as it was at graph version `version`: `current` (the graph now)
 * with the `change` entries of `history` made after that version undone,
 * newest first. The history does not keep everything a change replaced: a
 * node removed later comes back with the task an earlier `add` entry names
 * (else `?`) and the links that later entries name; an unlinked link comes
 * back with the map of the entry that linked it, if any. Versions before the
 * first or after the current one are refused by the caller.
 */
export function graphAt(current: GraphView, history: readonly HistoryEntry[], version: number): GraphView {
  const nodes = new Map(current.nodes.map((n) => [n.id, { ...n }]));
  let links = current.links.map((l) => ({ ...l }));
  const changes = history.filter((e) => e.type === 'change' && e.detail !== undefined);
  const undo = changes.filter((e) => e.graphVersion > version).reverse();
  const earlier = (entry: HistoryEntry) => changes.filter((e) => e.seq < entry.seq).map((e) => e.detail as Detail);
  const dropLink = (from: string, to: string) => (links = links.filter((l) => !(l.from === from && l.to === to)));
  const addLink = (from: string, to: string, map: unknown) => {
    dropLink(from, to);
    links.push(linkOf(from, to, typeof map === 'object' && map !== null ? (map as Record<string, string>) : undefined));
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
        if (node === undefined) break;
        const added = earlier(entry).find((e) => e['op'] === 'add' && e['node'] === node);
        nodes.set(node, { id: node, kind: 'task', name: text(added?.['task']) ?? '?', persistent: false });
        break;
      }
      case 'link':
        dropLink(String(d['from']), String(d['to']));
        break;
      case 'unlink': {
        const from = String(d['from']);
        const to = String(d['to']);
        const linked = earlier(entry).findLast((e) => (e['op'] === 'link' && e['from'] === from && e['to'] === to) || (e['op'] === 'relink' && e['to'] === from && e['node'] === to));
        addLink(from, to, linked?.['map']);
        break;
      }
      case 'relink':
        if (node === undefined) break;
        dropLink(String(d['to']), node);
        addLink(String(d['from']), node, undefined);
        break;
      case 'replace': {
        const target = node === undefined ? undefined : nodes.get(node);
        const replaced = (d['with'] ?? {}) as Detail;
        if (target === undefined || text(replaced['name']) === undefined) break;
        const before = earlier(entry).findLast((e) => e['node'] === node && ((e['op'] === 'add' && typeof e['task'] === 'string') || (e['op'] === 'replace' && typeof (e['with'] as Detail | undefined)?.['name'] === 'string')));
        target.name = text(before?.['op'] === 'add' ? before['task'] : (before?.['with'] as Detail | undefined)?.['name']) ?? '?';
        break;
      }
      default:
        break;
    }
  }
  // A node's links to nodes that did not exist then are left out.
  links = links.filter((l) => nodes.has(l.from) && nodes.has(l.to));
  return { version, nodes: [...nodes.values()], links };
}
