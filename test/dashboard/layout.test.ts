import { describe, expect, it } from 'vitest';
import { COLUMN, NODE_HEIGHT, NODE_WIDTH, bounds, forEachNodeIn, layoutGraph, nodeAt, patchLayout, type Layout } from '../../src/dashboard/page/graph/layout.js';

const graph = (ids: string[], links: Array<[string, string]>) => ({ nodes: ids.map((id) => ({ id })), links: links.map(([from, to]) => ({ from, to })) });
const layerOf = (layout: Layout, id: string): number => layout.layer[layout.index.get(id)!]!;
const yOf = (layout: Layout, id: string): number => layout.y[layout.index.get(id)!]!;

/** No two nodes of a layer overlap. */
function expectNoOverlap(layout: Layout): void {
  for (const column of layout.layers) {
    for (let k = 1; k < column.length; k++) expect(layout.y[column[k]!]! - layout.y[column[k - 1]!]!).toBeGreaterThanOrEqual(NODE_HEIGHT);
  }
}

describe('layoutGraph', () => {
  it('puts each node one layer after its furthest source (longest path)', () => {
    const layout = layoutGraph(graph(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['a', 'c'], ['c', 'd']]));
    expect(['a', 'b', 'c', 'd'].map((id) => layerOf(layout, id))).toEqual([0, 1, 2, 3]);
    expect(layout.x[layout.index.get('c')!]).toBe(2 * COLUMN);
    expectNoOverlap(layout);
  });

  it('lays out a cycle (a stalled run) without losing a node, breaking it at its first node', () => {
    const layout = layoutGraph(graph(['start', 'x', 'y', 'z'], [['start', 'x'], ['x', 'y'], ['y', 'z'], ['z', 'x']]));
    expect(layout.ids).toHaveLength(4);
    expect(['start', 'x', 'y', 'z'].map((id) => layerOf(layout, id))).toEqual([0, 1, 2, 3]);
    expect(layout.edges).toHaveLength(4);
  });

  it('orders a layer by its sources (barycenter): crossing links are untangled', () => {
    // a1 -> b2 and a2 -> b1 cross when b1 is drawn above b2.
    const layout = layoutGraph(graph(['a1', 'a2', 'b1', 'b2'], [['a1', 'b2'], ['a2', 'b1']]));
    expect(yOf(layout, 'a1') < yOf(layout, 'a2')).toBe(yOf(layout, 'b2') < yOf(layout, 'b1'));
  });

  it('ignores links to unknown nodes and self links', () => {
    const layout = layoutGraph(graph(['a', 'b'], [['a', 'ghost'], ['a', 'a'], ['a', 'b']]));
    expect(layout.edges).toEqual([{ from: 0, to: 1, link: 2 }]);
  });

  it('lays out 10,000 nodes in well under a second', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `n${i}`);
    const links: Array<[string, string]> = [];
    for (let i = 100; i < ids.length; i++) links.push([`n${i - 100 - (i % 7)}`, `n${i}`], [`n${i - 100 + ((i * 13) % 100) - (i % 100)}`, `n${i}`]);
    const started = performance.now();
    const layout = layoutGraph(graph(ids, links));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(layout.layers).toHaveLength(100);
    expectNoOverlap(layout);
  });
});

describe('patchLayout', () => {
  it('keeps the place of the nodes that stay and puts a new node after its source, below its layer', () => {
    const before = layoutGraph(graph(['fetch', 'kick', 'install'], [['fetch', 'install'], ['kick', 'install']]));
    const after = patchLayout(before, graph(['fetch', 'kick', 'install', 'kick2'], [['fetch', 'install'], ['kick2', 'install'], ['kick', 'install']]));
    for (const id of ['fetch', 'kick', 'install']) expect([after.x[after.index.get(id)!], yOf(after, id)]).toEqual([before.x[before.index.get(id)!], yOf(before, id)]);
    expect(layerOf(after, 'kick2')).toBe(0);
    expect(yOf(after, 'kick2')).toBeGreaterThan(Math.max(yOf(before, 'fetch'), yOf(before, 'kick')));
    expectNoOverlap(after);
  });

  it('places new nodes that depend on each other in successive layers, and drops removed nodes', () => {
    const before = layoutGraph(graph(['a', 'b'], [['a', 'b']]));
    const after = patchLayout(before, graph(['a', 'd', 'c'], [['a', 'c'], ['c', 'd']]));
    expect(after.ids).toEqual(['a', 'd', 'c']);
    expect([layerOf(after, 'c'), layerOf(after, 'd')]).toEqual([1, 2]);
    expect(after.layers.flat().sort()).toEqual([0, 1, 2]);
  });
});

describe('finding nodes', () => {
  const layout = layoutGraph(graph(['a', 'b', 'c'], [['a', 'b'], ['a', 'c']]));

  it('finds the node under a point, and nothing between nodes', () => {
    const b = layout.index.get('b')!;
    expect(nodeAt(layout, layout.x[b]! + 5, layout.y[b]! + 5)).toBe(b);
    expect(nodeAt(layout, layout.x[b]! + NODE_WIDTH + 5, layout.y[b]! + 5)).toBeUndefined();
  });

  it('visits only the nodes in a rectangle', () => {
    const seen: string[] = [];
    forEachNodeIn(layout, COLUMN, -1_000, COLUMN + 1, 1_000, (v) => seen.push(layout.ids[v]!));
    expect(seen.sort()).toEqual(['b', 'c']);
    const all: string[] = [];
    const box = bounds(layout);
    forEachNodeIn(layout, box.left, box.top, box.right, box.bottom, (v) => all.push(layout.ids[v]!));
    expect(all.sort()).toEqual(['a', 'b', 'c']);
  });
});
