/**
 * Graphs of flows and runs as Mermaid or Graphviz DOT text: pure functions over
 * `{ nodes, links }`. A run's nodes carry their state, drawn as a fill colour.
 *
 * @packageDocumentation
 */
import type { RunSnapshot } from '../client/snapshot.js';
import { mapText } from './print.js';
import type { FlowDefinition, LinkDefinition } from '../model/definition.js';

/** A node to draw. */
export interface GraphNode {
  /** Node id. */
  id: string;
  /** `task` or `event`. */
  kind: 'task' | 'event';
  /** Task or event name. */
  name: string;
  /** Persistent listener. */
  persistent: boolean;
  /** The node's state (runs only). */
  status?: string;
  /** A map node: the input it fans out over (drawn `id[i]`). */
  each?: string;
  /** A started map node's children (runs only): `resize[0..4] 3 succeeded, 2 running`. */
  children?: string;
}

/** A link to draw: `to` listens to `from`. */
export interface GraphLink {
  /** Source node id. */
  from: string;
  /** Listener node id. */
  to: string;
  /** Renames: listener input → provided name. */
  map: Record<string, string>;
  /** Inferred from matching names (drawn dashed). */
  inferred: boolean;
}

/** A flow's or a run's graph. */
export interface Graph {
  /** Flow name. */
  name: string;
  /** The run's id (runs only). */
  run?: string;
  /** The run's status (runs only). */
  status?: string;
  /** The run's graph version (runs only). */
  graphVersion?: number;
  /** Nodes in order. */
  nodes: GraphNode[];
  /** Links in order. */
  links: GraphLink[];
}

/** Output formats of {@link renderGraph}. */
export const GRAPH_FORMATS = ['mermaid', 'dot'] as const;

/** One of {@link GRAPH_FORMATS}. */
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** Fill colour of each node state. */
export const STATE_COLOURS: Readonly<Record<string, string>> = {
  waiting: '#eeeeee',
  running: '#cce0ff',
  retrying: '#ffeebb',
  succeeded: '#ccffcc',
  failed: '#ffcccc',
  skipped: '#dddddd',
  cancelled: '#bbbbbb',
  listening: '#cceeff',
};

const toLink = (link: LinkDefinition): GraphLink => ({ from: link.from, to: link.to, map: { ...link.map }, inferred: link.inferred });

/** The graph of a flow definition. */
export function flowGraph(definition: FlowDefinition): Graph {
  return {
    name: definition.name,
    nodes: definition.nodes.map((n) => ({ id: n.id, kind: n.kind, name: n.name, persistent: n.persistent, ...(n.each === undefined ? {} : { each: n.each }) })),
    links: definition.links.map(toLink),
  };
}

/** The graph of a run: its nodes with their states, and its current links. */
export function runGraph(run: RunSnapshot, links: readonly LinkDefinition[]): Graph {
  return {
    name: run.flow,
    run: run.id,
    status: run.status,
    graphVersion: run.graphVersion,
    nodes: Object.values(run.nodes).map((n) => ({ id: n.id, kind: n.kind, name: n.name, persistent: n.persistent, status: n.status, ...(n.map === undefined ? {} : { children: mapText(n.id, n.map) }) })),
    links: links.map(toLink),
  };
}

/** Renders a graph in a format. */
export function renderGraph(graph: Graph, format: GraphFormat): string {
  return format === 'dot' ? toDot(graph) : toMermaid(graph);
}

function label(node: GraphNode): string {
  const name = node.name === node.id ? '' : ` (${node.kind === 'event' ? 'event ' : ''}${node.name})`;
  const map = node.children !== undefined ? ` [${node.children}]` : node.each !== undefined ? ` [${node.id}[i] each ${node.each}]` : '';
  return `${node.id}${name}${node.persistent ? ' [persistent]' : ''}${map}`;
}

const linkLabel = (link: GraphLink): string =>
  Object.entries(link.map)
    .map(([input, provided]) => `${input}=${provided}`)
    .join(', ');

const MERMAID_RESERVED = new Set(['end', 'graph', 'flowchart', 'subgraph', 'class', 'classdef', 'click', 'style', 'linkstyle', 'default', 'direction', 'call', 'href']);

/** Mermaid ids: the node id when it is a plain word, else `n<index>`; never two alike. */
function mermaidIds(nodes: readonly GraphNode[]): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  const plain = (id: string): boolean => /^[A-Za-z][A-Za-z0-9_]*$/.test(id) && !MERMAID_RESERVED.has(id.toLowerCase());
  for (const node of nodes) if (plain(node.id)) used.add(node.id);
  nodes.forEach((node, i) => {
    if (plain(node.id)) return ids.set(node.id, node.id);
    let id = `n${i}`;
    while (used.has(id)) id += '_';
    used.add(id);
    ids.set(node.id, id);
  });
  return ids;
}

const mermaidText = (text: string): string => text.replace(/"/g, '#quot;');

/** Mermaid flowchart text; a run's states as classes (`classDef succeeded fill:#ccffcc`). */
export function toMermaid(graph: Graph): string {
  const ids = mermaidIds(graph.nodes);
  const id = (node: string): string => ids.get(node) ?? mermaidText(node);
  const lines = ['flowchart LR'];
  for (const node of graph.nodes) {
    const text = `"${mermaidText(label(node))}"`;
    lines.push(`  ${id(node.id)}${node.kind === 'event' ? `>${text}]` : `[${text}]`}`);
  }
  for (const link of graph.links) {
    const arrow = link.inferred ? '-.->' : '-->';
    const text = linkLabel(link);
    lines.push(`  ${id(link.from)} ${arrow}${text === '' ? '' : `|"${mermaidText(text)}"|`} ${id(link.to)}`);
  }
  const byStatus = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (node.status === undefined) continue;
    byStatus.set(node.status, [...(byStatus.get(node.status) ?? []), id(node.id)]);
  }
  for (const [status, members] of byStatus) {
    lines.push(`  classDef ${status} fill:${STATE_COLOURS[status] ?? '#ffffff'},stroke:#555555`);
    lines.push(`  class ${members.join(',')} ${status}`);
  }
  return lines.join('\n');
}

const dotText = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Graphviz DOT text; a run's states as fill colours, its status in the label. */
export function toDot(graph: Graph): string {
  const title = graph.run === undefined ? graph.name : `${graph.name} (run ${graph.run}: ${graph.status ?? ''}, graph version ${graph.graphVersion ?? ''})`;
  const lines = [
    `digraph ${dotText(graph.name)} {`,
    `  label=${dotText(title)};`,
    '  rankdir=LR;',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff"];',
  ];
  for (const node of graph.nodes) {
    const attrs = [`label=${dotText(node.status === undefined ? label(node) : `${label(node)}\n${node.status}`)}`];
    if (node.kind === 'event') attrs.push('shape=cds');
    if (node.status !== undefined) attrs.push(`fillcolor="${STATE_COLOURS[node.status] ?? '#ffffff'}"`);
    lines.push(`  ${dotText(node.id)} [${attrs.join(', ')}];`);
  }
  for (const link of graph.links) {
    const attrs: string[] = [];
    const text = linkLabel(link);
    if (text !== '') attrs.push(`label=${dotText(text)}`);
    if (link.inferred) attrs.push('style=dashed');
    lines.push(`  ${dotText(link.from)} -> ${dotText(link.to)}${attrs.length === 0 ? '' : ` [${attrs.join(', ')}]`};`);
  }
  lines.push('}');
  return lines.join('\n');
}
