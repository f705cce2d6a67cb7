/**
 * The run graph's layout: layered, left to right, computed once when a run
 * opens and patched when its graph changes (new nodes are placed at the end of
 * their layer, the others keep their place, so the picture the user has in mind
 * stays put). Pure: no DOM, unit-tested in node.
 *
 * - Layers: longest path from the sources (Kahn's order; a cycle, which a
 *   stalled run may have, is broken at the first of its nodes in definition
 *   order, its closing link drawn backwards).
 * - Order in a layer: a few barycenter sweeps, down then up, each O(nodes log
 *   nodes + links): a node moves to the mean height of its neighbours.
 * - Coordinates: a layer is a column, centered on y = 0.
 *
 * Nodes are kept by index, with each layer's nodes sorted by height, so the
 * renderer finds what is in view (and what is under the pointer) by binary
 * search in the visible columns only.
 *
 * @packageDocumentation
 */

/** Node width, in layout units. */
export const NODE_WIDTH = 168;
/** Node height. */
export const NODE_HEIGHT = 40;
/** Horizontal distance between two layers' nodes. */
export const LAYER_GAP = 120;
/** Vertical distance between two nodes of a layer. */
export const ROW_GAP = 16;
/** Width of a layer's column, gap included. */
export const COLUMN = NODE_WIDTH + LAYER_GAP;
/** Height of a row, gap included. */
export const ROW = NODE_HEIGHT + ROW_GAP;

/** What the layout needs of a graph: node ids and links between them. */
export interface LayoutInput {
  /** Nodes, in definition order. */
  nodes: ReadonlyArray<{ id: string }>;
  /** Links: `to` listens to `from`. */
  links: ReadonlyArray<{ from: string; to: string }>;
}

/** A laid-out graph. Node `i` is `ids[i]`, its top-left corner at (`x[i]`, `y[i]`). */
export interface Layout {
  /** Node ids, by index. */
  ids: string[];
  /** Index of each node id. */
  index: Map<string, number>;
  /** Layer (column) of each node. */
  layer: number[];
  /** Left edge of each node. */
  x: number[];
  /** Top edge of each node. */
  y: number[];
  /** The node indices of each layer, by increasing `y`. */
  layers: number[][];
  /** Links by node index, with their index in the input (links to unknown nodes and self links left out). */
  edges: Edge[];
}

/** A link of a {@link Layout}: node indices, and the link's index in {@link LayoutInput.links}. */
export interface Edge {
  /** Source node index. */
  from: number;
  /** Listener node index. */
  to: number;
  /** Index of the link in the input. */
  link: number;
}

/** Options of {@link layoutGraph}. */
export interface LayoutOptions {
  /**
   * Barycenter sweeps (each one down and one up).
   * @default 2
   */
  sweeps?: number;
}

interface Adjacency {
  ids: string[];
  index: Map<string, number>;
  edges: Edge[];
  preds: number[][];
  succs: number[][];
}

function adjacency(input: LayoutInput): Adjacency {
  const ids = input.nodes.map((n) => n.id);
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  const preds: number[][] = ids.map(() => []);
  const succs: number[][] = ids.map(() => []);
  const edges: Edge[] = [];
  input.links.forEach((link, k) => {
    const from = index.get(link.from);
    const to = index.get(link.to);
    if (from === undefined || to === undefined || from === to) return;
    edges.push({ from, to, link: k });
    preds[to]!.push(from);
    succs[from]!.push(to);
  });
  return { ids, index, edges, preds, succs };
}

/** Longest-path layers, in Kahn's order; returns the layers and the order nodes were taken in. */
function assignLayers(adj: Adjacency): { layer: number[]; order: number[] } {
  const n = adj.ids.length;
  const pending = adj.preds.map((p) => p.length);
  const layer = new Array<number>(n).fill(0);
  const done = new Uint8Array(n);
  const order: number[] = [];
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) queue.push(i);
  let head = 0;
  let nextForced = 0;
  while (order.length < n) {
    if (head === queue.length) {
      // A cycle: take its first node in definition order as if its remaining sources were not there.
      while (done[nextForced] === 1) nextForced++;
      queue.push(nextForced);
    }
    const v = queue[head++]!;
    if (done[v] === 1) continue;
    done[v] = 1;
    order.push(v);
    for (const w of adj.succs[v]!) {
      if (done[w] === 1) continue; // a link closing a cycle
      if (layer[v]! + 1 > layer[w]!) layer[w] = layer[v]! + 1;
      if (--pending[w]! === 0) queue.push(w);
    }
  }
  return { layer, order };
}

/** Sorts each layer by the mean centered row of each node's neighbours (`preds` on the way down, `succs` up). */
function sweep(layers: number[][], neighbours: number[][], row: Float64Array, down: boolean): void {
  const sequence = down ? layers.keys() : [...layers.keys()].reverse().values();
  const key = new Float64Array(row.length);
  for (const l of sequence) {
    const nodes = layers[l]!;
    for (const v of nodes) {
      const around = neighbours[v]!;
      if (around.length === 0) {
        key[v] = row[v]!;
        continue;
      }
      let sum = 0;
      for (const w of around) sum += row[w]!;
      key[v] = sum / around.length;
    }
    nodes.sort((a, b) => key[a]! - key[b]! || row[a]! - row[b]!);
    const half = (nodes.length - 1) / 2;
    nodes.forEach((v, i) => (row[v] = i - half));
  }
}

/** Lays a graph out from scratch. */
export function layoutGraph(input: LayoutInput, options: LayoutOptions = {}): Layout {
  const adj = adjacency(input);
  const { layer, order } = assignLayers(adj);
  const layers: number[][] = [];
  for (const v of order) (layers[layer[v]!] ??= []).push(v);
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];
  const row = new Float64Array(adj.ids.length);
  for (const nodes of layers) {
    const half = (nodes.length - 1) / 2;
    nodes.forEach((v, i) => (row[v] = i - half));
  }
  for (let s = 0; s < (options.sweeps ?? 2); s++) {
    sweep(layers, adj.preds, row, true);
    sweep(layers, adj.succs, row, false);
  }
  const x = layer.map((l) => l * COLUMN);
  const y = Array.from(row, (r) => r * ROW);
  return { ids: adj.ids, index: adj.index, layer, x, y, layers, edges: adj.edges };
}

/**
 * The layout of a changed graph, from the previous one: nodes still there
 * keep their place; a new node goes one layer after its furthest placed
 * source, below the nodes of that layer. O(nodes + links).
 */
export function patchLayout(previous: Layout, input: LayoutInput): Layout {
  const adj = adjacency(input);
  const n = adj.ids.length;
  const layer = new Array<number>(n).fill(-1);
  const x = new Array<number>(n).fill(0);
  const y = new Array<number>(n).fill(0);
  const fresh: number[] = [];
  for (let i = 0; i < n; i++) {
    const old = previous.index.get(adj.ids[i]!);
    if (old === undefined) fresh.push(i);
    else {
      layer[i] = previous.layer[old]!;
      x[i] = previous.x[old]!;
      y[i] = previous.y[old]!;
    }
  }
  const layers: number[][] = [];
  for (let i = 0; i < n; i++) if (layer[i]! >= 0) (layers[layer[i]!] ??= []).push(i);
  for (let l = 0; l < layers.length; l++) (layers[l] ??= []).sort((a, b) => y[a]! - y[b]!);
  // New nodes after their new sources (a cycle among them: its first node first); changes add few nodes.
  let waiting = fresh;
  while (waiting.length > 0) {
    const ready = waiting.filter((v) => !adj.preds[v]!.some((p) => layer[p] === -1));
    for (const v of ready.length > 0 ? ready : [waiting[0]!]) place(v);
    waiting = waiting.filter((v) => layer[v] === -1);
  }
  return { ids: adj.ids, index: adj.index, layer, x, y, layers, edges: adj.edges };

  function place(v: number): void {
    let l = 0;
    for (const p of adj.preds[v]!) if (layer[p]! >= 0) l = Math.max(l, layer[p]! + 1);
    const column = (layers[l] ??= []);
    for (let k = 0; k < l; k++) layers[k] ??= [];
    const last = column[column.length - 1];
    layer[v] = l;
    x[v] = l * COLUMN;
    y[v] = last === undefined ? 0 : y[last]! + ROW;
    column.push(v);
  }
}

/** The first index of `nodes` (sorted by `y`) whose node's bottom is at or below `top`. */
function firstFrom(nodes: number[], y: number[], top: number): number {
  let lo = 0;
  let hi = nodes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (y[nodes[mid]!]! + NODE_HEIGHT < top) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Calls `visit` with every node that overlaps the rectangle (layout units): only the columns in view are looked at. */
export function forEachNodeIn(layout: Layout, left: number, top: number, right: number, bottom: number, visit: (node: number) => void): void {
  const first = Math.max(0, Math.floor((left - NODE_WIDTH) / COLUMN) + 1);
  const last = Math.min(layout.layers.length - 1, Math.floor(right / COLUMN));
  for (let l = first; l <= last; l++) {
    const nodes = layout.layers[l]!;
    for (let k = firstFrom(nodes, layout.y, top); k < nodes.length; k++) {
      const v = nodes[k]!;
      if (layout.y[v]! > bottom) break;
      visit(v);
    }
  }
}

/** The node under a point (layout units), if any. */
export function nodeAt(layout: Layout, px: number, py: number): number | undefined {
  let found: number | undefined;
  forEachNodeIn(layout, px, py, px, py, (v) => {
    if (px >= layout.x[v]! && px <= layout.x[v]! + NODE_WIDTH && py >= layout.y[v]! && py <= layout.y[v]! + NODE_HEIGHT) found = v;
  });
  return found;
}

/** The bounding box of the laid-out nodes (an empty graph: all zero). */
export function bounds(layout: Layout): { left: number; top: number; right: number; bottom: number } {
  if (layout.ids.length === 0) return { left: 0, top: 0, right: 0, bottom: 0 };
  let top = Infinity;
  let bottom = -Infinity;
  for (const column of layout.layers) {
    if (column.length === 0) continue;
    top = Math.min(top, layout.y[column[0]!]!);
    bottom = Math.max(bottom, layout.y[column[column.length - 1]!]! + NODE_HEIGHT);
  }
  return { left: 0, top, right: (layout.layers.length - 1) * COLUMN + NODE_WIDTH, bottom };
}
