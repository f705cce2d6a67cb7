import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { RunView } from '../../src/dashboard/page/api-types.js';
import { layoutGraph } from '../../src/dashboard/page/graph/layout.js';
import { activationBadge, blockedNodes, graphLooks, linkLabel } from '../../src/dashboard/page/graph/looks.js';
import { applyEntry } from '../../src/dashboard/page/run-model.js';

function wordpress(): RunView {
  return {
    id: 'r1',
    flow: 'wordpress',
    status: 'running',
    graphVersion: 1,
    createdAt: 1_000,
    updatedAt: 1_000,
    nodes: {
      fetch: { id: 'fetch', kind: 'task', name: 'fetchChefRecipes', status: 'running', attempt: 1, persistent: false, startedAt: 1_000 },
      kick: { id: 'kick', kind: 'task', name: 'kickServer', status: 'queued', attempt: 0, persistent: false },
      install: { id: 'install', kind: 'task', name: 'installWordpress', status: 'waiting', attempt: 0, persistent: false, waitingFor: { sources: ['fetch', 'kick'], inputs: [] } },
    },
    graph: {
      version: 1,
      nodes: [
        { id: 'fetch', kind: 'task', name: 'fetchChefRecipes', persistent: false },
        { id: 'kick', kind: 'task', name: 'kickServer', persistent: false },
        { id: 'install', kind: 'task', name: 'installWordpress', persistent: false },
      ],
      links: [
        { from: 'fetch', to: 'install', map: { recipes: 'fetchChefRecipes' } },
        { from: 'kick', to: 'install', map: { address: 'server' } },
      ],
    },
  };
}

const entry = (fields: Partial<HistoryEntry> & Pick<HistoryEntry, 'type'>): HistoryEntry => ({ runId: 'r1', seq: 2, at: 2_000, graphVersion: 1, ...fields });

describe('applyEntry', () => {
  it('moves a node through queued, running, retrying and succeeded with its timings', () => {
    const run = wordpress();
    expect(applyEntry(run, entry({ type: 'node.queued', node: 'kick', attempt: 1, at: 1_200 }))).toBe('changed');
    expect(run.nodes['kick']).toMatchObject({ status: 'queued', attempt: 1, queuedAt: 1_200 });
    expect(run.nodes['kick']?.startedAt).toBeUndefined();
    expect(applyEntry(run, entry({ type: 'node.started', node: 'kick', attempt: 1, at: 1_500 }))).toBe('changed');
    expect(run.nodes['kick']).toMatchObject({ status: 'running', attempt: 1, queuedAt: 1_200, startedAt: 1_500 });
    expect(applyEntry(run, entry({ type: 'node.retrying', node: 'kick', attempt: 1, detail: { name: 'Error', message: 'zone a has no capacity left' } }))).toBe('changed');
    expect(run.nodes['kick']).toMatchObject({ status: 'retrying', error: { message: 'zone a has no capacity left' } });
    expect(applyEntry(run, entry({ type: 'node.succeeded', node: 'kick', attempt: 2, at: 3_000 }))).toBe('changed');
    expect(run.nodes['kick']).toMatchObject({ status: 'succeeded', attempt: 2, finishedAt: 3_000 });
    expect(run.nodes['kick']?.error).toBeUndefined();
    expect(run.updatedAt).toBe(3_000);
  });

  it('asks for the run again on a change, a failure (for its stack), an activation, a newer graph, or a stall', () => {
    expect(applyEntry(wordpress(), entry({ type: 'change', graphVersion: 2, actor: 'dashboard:alice' }))).toBe('refetch');
    expect(applyEntry(wordpress(), entry({ type: 'node.failed', node: 'kick', attempt: 2 }))).toBe('refetch');
    expect(applyEntry(wordpress(), entry({ type: 'node.succeeded', node: 'kick', activation: 3 }))).toBe('refetch');
    expect(applyEntry(wordpress(), entry({ type: 'node.started', node: 'kick', graphVersion: 2 }))).toBe('refetch');
    expect(applyEntry(wordpress(), entry({ type: 'run.status', status: 'stalled' }))).toBe('refetch');
    expect(applyEntry(wordpress(), entry({ type: 'node.started', node: 'not-there' }))).toBe('refetch');
  });

  it('ignores other runs and older graph versions, and marks a rollback done', () => {
    const run = wordpress();
    expect(applyEntry(run, entry({ type: 'node.started', node: 'kick', runId: 'r2' }))).toBe('ignored');
    run.graphVersion = 2;
    expect(applyEntry(run, entry({ type: 'node.started', node: 'kick', graphVersion: 1 }))).toBe('ignored');
    expect(applyEntry(run, entry({ type: 'rollback.succeeded', node: 'fetch', graphVersion: 2 }))).toBe('changed');
    expect(run.nodes['fetch']?.undo).toBe('done');
    expect(applyEntry(run, entry({ type: 'run.status', status: 'succeeded', graphVersion: 2 }))).toBe('changed');
    expect(run.status).toBe('succeeded');
  });
});

describe('graph looks', () => {
  it('colours nodes by state (a rolled-back node as rolled back) and labels links with their renames', () => {
    const run = wordpress();
    run.nodes['fetch']!.undo = 'done';
    const graph = run.graph;
    const looks = graphLooks(graph, layoutGraph(graph), run);
    expect(looks.looks.map((l) => l.state)).toEqual(['rolled back', 'queued', 'waiting']);
    expect(looks.labels).toEqual(['recipes←fetchChefRecipes', 'address←server']);
    expect(linkLabel({ from: 'a', to: 'b', map: { x: 'x' } })).toBe('x');
    expect(linkLabel({ from: 'a', to: 'b' })).toBeUndefined();
  });

  it("marks a stalled run's cycle (nodes and links) and the nodes missing an input", () => {
    const run = wordpress();
    run.status = 'stalled';
    run.cycle = ['kick', 'install', 'kick'];
    run.graph.links.push({ from: 'install', to: 'kick' });
    run.nodes['fetch']!.waitingFor = { sources: [], inputs: ['zone'] };
    expect([...blockedNodes(run)].sort()).toEqual(['fetch', 'install', 'kick']);
    const looks = graphLooks(run.graph, layoutGraph(run.graph), run);
    expect(looks.looks.map((l) => l.mark)).toEqual(['blocked', 'blocked', 'blocked']);
    expect(looks.blockedEdges.size).toBe(2);
  });

  it('marks the new nodes of a preview, and counts a listener’s activations', () => {
    const run = wordpress();
    const looks = graphLooks(run.graph, layoutGraph(run.graph), run, new Set(['kick']));
    expect(looks.looks[1]?.mark).toBe('new');
    expect(activationBadge({ ...run.nodes['fetch']!, activations: { succeeded: 3, failed: 1, queued: 1, running: 1, retrying: 0 } })).toBe('6 act. · 1 ✗');
  });
});
