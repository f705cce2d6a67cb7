/**
 * The pure parts of the CLI: graph renderers and the live view's status line.
 */
import { describe, expect, it } from 'vitest';
import { flowGraph, toDot, toMermaid, type Graph } from '../../src/cli/graph-format.js';
import { LiveView, bar, statusLine } from '../../src/cli/live-view.js';
import { flow, task, type HistoryEntry } from '../../src/index.js';
import { duration, mapText, progressLine, table } from '../../src/cli/print.js';

const graph: Graph = {
  name: 'odd "names"',
  nodes: [
    { id: 'end', kind: 'task', name: 'finish', persistent: false, status: 'failed' },
    { id: 'server.created', kind: 'event', name: 'server.created', persistent: false, status: 'listening' },
    { id: 'n0', kind: 'task', name: 'n0', persistent: true, status: 'succeeded' },
  ],
  links: [
    { from: 'server.created', to: 'end', map: { ip: 'ip' }, inferred: false },
    { from: 'n0', to: 'end', map: {}, inferred: true },
  ],
};

describe('graph renderers', () => {
  it('mermaid: plain ids kept, reserved or dotted ids replaced without clashing, events flagged, states as classes', () => {
    expect(toMermaid(graph).split('\n')).toEqual([
      'flowchart LR',
      '  n0_["end (finish)"]',
      '  n1>"server.created"]',
      '  n0["n0 [persistent]"]',
      '  n1 -->|"ip=ip"| n0_',
      '  n0 -.-> n0_',
      '  classDef failed fill:#ffcccc,stroke:#555555',
      '  class n0_ failed',
      '  classDef listening fill:#cceeff,stroke:#555555',
      '  class n1 listening',
      '  classDef succeeded fill:#ccffcc,stroke:#555555',
      '  class n0 succeeded',
    ]);
  });

  it('dot: quoted and escaped, states as fill colours, inferred links dashed', () => {
    const dot = toDot({ ...graph, run: 'r1', status: 'failed', graphVersion: 2 });
    expect(dot).toContain('digraph "odd \\"names\\"" {');
    expect(dot).toContain('"end" [label="end (finish)\\nfailed", fillcolor="#ffcccc"];');
    expect(dot).toContain('"server.created" [label="server.created\\nlistening", shape=cds, fillcolor="#cceeff"];');
    expect(dot).toContain('"n0" -> "end" [style=dashed];');
    expect(dot).toContain('"server.created" -> "end" [label="ip=ip"];');
  });

  it('a flow definition has no states', () => {
    const g = flowGraph({ name: 'f', onFailure: 'halt', nodes: [], links: [] });
    expect(toMermaid(g)).toBe('flowchart LR');
  });
});

describe('terminal output', () => {
  it('bar and status line count nodes per state', () => {
    expect(bar(5, 10, 10)).toBe('[#####.....] 5/10');
    expect(bar(0, 0, 4)).toBe('[####] 0/0');
    const states = new Map([['a', 'succeeded'], ['b', 'running'], ['c', 'waiting'], ['d', 'failed']]);
    expect(statusLine(states)).toBe('[##########..........] 2/4  succeeded 1 · running 1 · waiting 1 · failed 1');
  });

  it('durations and tables', () => {
    expect([duration(12), duration(2400), duration(185_000), duration(3_720_000)]).toEqual(['12ms', '2.4s', '3m05s', '1h02m']);
    expect(table([['a', 'bb', 'c'], ['ccc', 'd', '']])).toEqual(['a    bb  c', 'ccc  d']);
  });

  it('the live view rewrites one status line in place and keeps failures above it', () => {
    let written = '';
    const stream = { columns: 200, write: (text: string) => (written += text) } as unknown as NodeJS.WriteStream;
    const view = new LiveView([{ id: 'a', kind: 'task', persistent: false }, { id: 'b', kind: 'task', persistent: false }], stream);
    const entry = (type: HistoryEntry['type'], node: string, detail?: HistoryEntry['detail']): HistoryEntry => ({ runId: 'r', seq: 1, at: 0, type, graphVersion: 1, node, attempt: 1, ...(detail === undefined ? {} : { detail }) });
    // Dispatched: queued; a worker reports the start: running (issue 12: queued work was counted running).
    view.update(entry('node.queued', 'a'));
    view.update(entry('node.queued', 'b'));
    view.update(entry('node.started', 'a'));
    expect(statusLine(new Map([['a', 'running'], ['b', 'queued']]))).toBe('[....................] 0/2  running 1 · queued 1');
    view.render();
    expect(written).toBe('\r\x1b[2K[....................] 0/2  running 1 · queued 1');
    written = '';
    view.update(entry('node.succeeded', 'a'));
    view.update(entry('node.started', 'b'));
    view.render();
    expect(written).toBe('\r\x1b[2K[##########..........] 1/2  succeeded 1 · running 1');
    written = '';
    view.update(entry('node.failed', 'b', { message: 'boom' }));
    view.render();
    view.close();
    expect(written.split('\r\x1b[2K')).toEqual(['', 'node.failed        b (attempt 1): boom\n', '[####################] 2/2  succeeded 1 · failed 1', '']);
  });
});

describe('map nodes in the CLI', () => {
  const map = { total: 100, succeeded: 97, failed: 1, queued: 0, running: 2, retrying: 0, pending: 0, children: {} };

  it('counts children in one cell instead of a line each', () => {
    expect(mapText('fan', map)).toBe('fan[0..99] 97 succeeded, 1 failed, 2 running');
    expect(mapText('fan', { ...map, total: 0, succeeded: 0, failed: 0, running: 0 })).toBe('fan[] no elements');
  });

  it('names children node[i] in progress lines, other activations node #seq', () => {
    const entry = { runId: 'r', seq: 4, at: 0, graphVersion: 1, type: 'node.failed', node: 'fan', attempt: 2, activation: 3, detail: { message: 'bad' } } satisfies HistoryEntry;
    expect(progressLine(entry, new Set(['fan']))).toBe('node.failed        fan[3] (attempt 2): bad');
    expect(progressLine(entry)).toBe('node.failed        fan #3 (attempt 2): bad');
  });

  it('draws a map node as id[i] over its input, and a run map node with its children counts', () => {
    const definition = flow('g').add(task('resize', { requires: ['page'], apply: () => 0 }).s({}, { id: 'fan', each: 'page' })).definition();
    expect(toMermaid(flowGraph(definition))).toContain('fan["fan (resize) [fan[i] each page]"]');
    const run = { ...graph, nodes: [{ id: 'fan', kind: 'task' as const, name: 'resize', persistent: false, status: 'running', children: mapText('fan', map) }], links: [] };
    expect(toDot(run)).toContain('fan (resize) [fan[0..99] 97 succeeded, 1 failed, 2 running]');
  });
});
