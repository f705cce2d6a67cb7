/**
 * The graph of a run at an earlier graph version: the history's change entries
 * undone on the graph of now, on a run changed by the real engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { graphAt, graphView, statesAt } from '../../src/dashboard/server/graph-view.js';
import { scopeBoxes } from '../../src/dashboard/page/graph/looks.js';
import { MemoryStore } from '../../src/store/memory/index.js';

let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => (release = resolve));
const a = task('gv.a', { provides: 'a', apply: async () => held.then(() => 1) });
const b = task('gv.b', { requires: ['a'], provides: 'b', apply: () => 2 });
const c = task('gv.c', { requires: ['b'], apply: () => 3 });
const d = task('gv.d', { requires: ['b'], apply: () => 4 });
const fine = task('gv.fine', { apply: () => 1 });
const broken = task('gv.broken', { apply: () => { throw new Error('broken'); } });

describe('graph at a version', () => {
  let client: Client;
  const store = new MemoryStore();
  beforeAll(async () => {
    client = await connect({ store, tasks: [a, b, c, d, fine, broken] });
  });
  afterAll(async () => {
    release();
    await client.close();
  });

  it('undoes adds, removes, links, unlinks and relinks, newest first', async () => {
    const f = flow('gv');
    const nb = b.s({}, { id: 'b' });
    f.link(a.s({}, { id: 'a' }), nb);
    f.link(nb, c.s({}, { id: 'c' }));
    // a runs until the test ends: b, c and d wait and can be changed.
    const run = await client.start(f);
    const at = async () => {
      const state = (await store.loadRun(run.id))!;
      return { now: graphView(state), history: await store.history(run.id) };
    };
    const v1 = (await at()).now;
    await run.change([{ op: 'add', node: { task: 'gv.d', id: 'd' }, sources: ['b'] }, { op: 'remove', node: 'c' }]); // v2
    await run.link('a', 'd'); // v3
    await run.unlink('a', 'd'); // v4
    await run.relink('d', 'b', 'a', { map: { b: 'a' } }); // v5
    const { now, history } = await at();
    expect(now.version).toBe(5);
    expect(now.links).toContainEqual({ from: 'a', to: 'd', map: { b: 'a' } });
    const sort = (g: { nodes: { id: string }[]; links: { from: string; to: string }[] }) => ({ nodes: g.nodes.map((n) => n.id).sort(), links: g.links.map((l) => `${l.from}>${l.to}`).sort() });
    expect(sort(now)).toEqual({ nodes: ['a', 'b', 'd'], links: ['a>b', 'a>d'] });
    expect(sort(graphAt(now, history, 4))).toEqual({ nodes: ['a', 'b', 'd'], links: ['a>b', 'b>d'] });
    expect(sort(graphAt(now, history, 3))).toEqual({ nodes: ['a', 'b', 'd'], links: ['a>b', 'a>d', 'b>d'] });
    expect(sort(graphAt(now, history, 2))).toEqual({ nodes: ['a', 'b', 'd'], links: ['a>b', 'b>d'] });
    // Exactly the graph of then: the removed node with its task and links (each change records what it took away).
    const first = graphAt(now, history, 1);
    expect(first.nodes.find((n) => n.id === 'c')).toEqual(v1.nodes.find((n) => n.id === 'c'));
    expect(sort(first)).toEqual(sort(v1));
    expect(sort(v1)).toEqual({ nodes: ['a', 'b', 'c'], links: ['a>b', 'b>c'] });
  });

  it('gives back a relinked link with its map, and what a replace overwrote', async () => {
    const f = flow('gv-maps');
    f.link(a.s({}, { id: 'a' }), b.s({}, { id: 'b' }));
    f.link(a.s({}, { id: 'a2' }), d.s({ extra: 1 }, { id: 'd' }), { map: { b: 'a' } });
    const run = await client.start(f);
    const at = async () => {
      const state = (await store.loadRun(run.id))!;
      return { now: graphView(state), history: await store.history(run.id) };
    };
    const v1 = (await at()).now;
    await run.relink('d', 'a2', 'b', { map: { b: 'b' } }); // v2
    await run.replace('d', c.s({ other: 2 })); // v3
    const { now, history } = await at();
    expect(now.nodes.find((n) => n.id === 'd')).toMatchObject({ name: 'gv.c', inputs: { other: 2 } });
    const byLink = (g: { links: { from: string; to: string; map?: Record<string, string> }[] }) => [...g.links].sort((x, y) => `${x.from}>${x.to}`.localeCompare(`${y.from}>${y.to}`));
    expect(byLink(graphAt(now, history, 2))).toEqual(byLink(now));
    expect(graphAt(now, history, 2).nodes.find((n) => n.id === 'd')).toEqual(v1.nodes.find((n) => n.id === 'd'));
    const first = graphAt(now, history, 1);
    expect(byLink(first)).toEqual(byLink(v1));
    expect(byLink(v1)).toContainEqual({ from: 'a2', to: 'd', map: { b: 'a' } });
    expect(first.nodes).toEqual(expect.arrayContaining(v1.nodes));
  });

  it('gives the node states of an earlier version as they were when the next version came', async () => {
    const run = await client.start(flow('gv-states').add(fine.s(), broken.s()));
    expect((await run.wait()).status).toBe('failed');
    await run.skip('gv.broken', 0); // v2
    expect((await run.wait()).status).toBe('succeeded');
    const state = (await store.loadRun(run.id))!;
    const history = await store.history(run.id);
    const then = graphAt(graphView(state), history, 1);
    expect(statesAt(then, history)).toEqual({ 'gv.fine': 'succeeded', 'gv.broken': 'failed' });
    expect(statesAt(graphView(state), history)).toEqual({ 'gv.fine': 'succeeded', 'gv.broken': 'skipped' });
  });
});

describe('subflows in the graph', () => {
  it('puts each node of a subflow in its scope, and the page boxes each subflow around its nodes, nested ones inside', async () => {
    const leaf = task('gv.leaf', { apply: () => 1 });
    const inner = flow('gv-inner').add(leaf.s());
    const middle = flow('gv-middle').add(leaf.s({}, { id: 'm' })).add(inner.s({}, { id: 'b' }));
    const top = flow('gv-top').link(fine.s(), middle.s({}, { id: 'a' }));
    const own = new MemoryStore();
    const tw = await connect({ store: own, tasks: [leaf, fine] });
    const run = await tw.start(top);
    await run.wait();
    await tw.close();
    const state = (await own.loadRun(run.id))!;
    const graph = graphView(state);
    expect(graph.nodes.map((node) => [node.id, node.scope])).toEqual([
      ['gv.fine', undefined],
      ['a/m', 'a'],
      ['a/b/gv.leaf', 'a/b'],
    ]);
    expect(scopeBoxes(graph)).toEqual([
      { id: 'a', members: [1, 2] },
      { id: 'a/b', members: [2] },
    ]);
  });
});

