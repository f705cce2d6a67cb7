/**
 * What each node and link of a run graph looks like: state colours from the
 * run, activation counts of persistent listeners, input mappings on links, and
 * what blocks a stalled run (its cycle's nodes and links, the nodes missing an
 * input) marked. Pure: unit-tested in node.
 *
 * @packageDocumentation
 */
import type { GraphLink, GraphView, NodeView, RunView } from '../api-types.js';
import type { Layout } from './layout.js';
import { shownState, type ShownState } from './palette.js';

/** What the renderer draws of one node besides its place. */
export interface NodeLook {
  /** Task or event name. */
  name: string;
  /** `task` or `event` (events are drawn as pills with a dashed border). */
  kind: 'task' | 'event';
  /** Persistent listener (double border, activation count). */
  persistent: boolean;
  /** The state it is shown in. */
  state: ShownState;
  /** A short text in its corner (a listener's activation count). */
  badge?: string;
  /** Marked: part of a stalled run's cycle, or missing an input (red outline), or new in a preview (dashed). */
  mark?: 'blocked' | 'new';
}

/** The looks of a graph's nodes and links, by layout index. */
export interface GraphLooks {
  /** Each node's look, by layout node index. */
  looks: NodeLook[];
  /** Each layout edge's label (its input mapping), by layout edge index. */
  labels: Array<string | undefined>;
  /** Layout edges of a stalled run's cycle. */
  blockedEdges: Set<number>;
  /** The subflows, each with its nodes (layout indices, nested ones' too): drawn as boxes around them, outermost first. */
  scopes: ScopeBox[];
}

/** A subflow drawn around its nodes. */
export interface ScopeBox {
  /** Its id (`payment`, `a/b`). */
  id: string;
  /** The layout indices of its nodes, those of subflows inside it included. */
  members: number[];
}

/** The subflows of `graph`, outermost first, each with its nodes (by layout index: the graph's node order). */
export function scopeBoxes(graph: GraphView): ScopeBox[] {
  const boxes = new Map<string, number[]>();
  graph.nodes.forEach((node, i) => {
    const parts = node.scope?.split('/') ?? [];
    for (let depth = 1; depth <= parts.length; depth++) {
      const id = parts.slice(0, depth).join('/');
      const members = boxes.get(id);
      if (members === undefined) boxes.set(id, [i]);
      else members.push(i);
    }
  });
  return [...boxes].sort(([a], [b]) => a.split('/').length - b.split('/').length).map(([id, members]) => ({ id, members }));
}

/** A link's label: its renames, `input←provided` (an unrenamed input by its name). */
export function linkLabel(link: GraphLink): string | undefined {
  if (link.map === undefined) return undefined;
  const parts = Object.entries(link.map).map(([input, provided]) => (input === provided ? input : `${input}←${provided}`));
  return parts.length === 0 ? undefined : parts.join(', ');
}

/** A persistent listener's activation count, as its badge (`3 act.`, `3 act. · 1 ✗`). */
export function activationBadge(node: NodeView | undefined): string | undefined {
  const counts = node?.activations;
  if (counts === undefined) return undefined;
  const total = counts.succeeded + counts.failed + counts.queued + counts.running + counts.retrying;
  return counts.failed > 0 ? `${total} act. · ${counts.failed} ✗` : `${total} act.`;
}

/** The nodes that block a stalled run: its cycle, and the waiting nodes that miss an input. */
export function blockedNodes(run: Pick<RunView, 'status' | 'cycle' | 'nodes'>): Set<string> {
  const blocked = new Set<string>();
  if (run.status !== 'stalled') return blocked;
  for (const id of run.cycle ?? []) blocked.add(id);
  for (const node of Object.values(run.nodes)) if ((node.waitingFor?.inputs.length ?? 0) > 0) blocked.add(node.id);
  return blocked;
}

/** The look of one node of `graph` (by layout index) in `run`; `added` nodes (a preview's new ones) are marked new. */
export function nodeLook(graph: GraphView, layout: Layout, index: number, run: RunView, blocked: Set<string>, added: ReadonlySet<string>): NodeLook {
  const id = layout.ids[index]!;
  const def = graph.nodes[index]!;
  const node = run.nodes[id];
  const look: NodeLook = { name: def.name, kind: def.kind, persistent: def.persistent, state: shownState(node) };
  const badge = activationBadge(node);
  if (badge !== undefined) look.badge = badge;
  if (added.has(id)) look.mark = 'new';
  else if (blocked.has(id)) look.mark = 'blocked';
  return look;
}

/**
 * The looks of `graph` (laid out as `layout`, whose node indices are the
 * graph's node order) with the states of `run`.
 */
export function graphLooks(graph: GraphView, layout: Layout, run: RunView, added: ReadonlySet<string> = new Set()): GraphLooks {
  const blocked = blockedNodes(run);
  const looks = graph.nodes.map((_, i) => nodeLook(graph, layout, i, run, blocked, added));
  const labels = layout.edges.map((edge) => linkLabel(graph.links[edge.link]!));
  const blockedEdges = new Set<number>();
  const cycle = run.status === 'stalled' ? (run.cycle ?? []) : [];
  if (cycle.length > 1) {
    const steps = new Set<string>();
    for (let k = 0; k + 1 < cycle.length; k++) steps.add(`${cycle[k]}\u0000${cycle[k + 1]}`);
    layout.edges.forEach((edge, e) => {
      if (steps.has(`${layout.ids[edge.from]}\u0000${layout.ids[edge.to]}`)) blockedEdges.add(e);
    });
  }
  return { looks, labels, blockedEdges, scopes: scopeBoxes(graph) };
}
