/**
 * A run: its live graph (laid out once, patched when the graph changes, node
 * states updated from the history stream), and a side panel with the selected
 * node, the history (with time travel) and the change composer. The graph shows
 * the live run, the run's graph at an older version, or a what-if preview.
 *
 * @packageDocumentation
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, followHistory, get, query } from '../api.js';
import type { GraphView, HistoryEntry, Me, RunView } from '../api-types.js';
import { layoutGraph, patchLayout, type Layout } from '../graph/layout.js';
import { blockedNodes, graphLooks } from '../graph/looks.js';
import { STATE_COLOURS, shownState, type ShownState } from '../graph/palette.js';
import type { GraphRenderer } from '../graph/renderer.js';
import { time } from '../format.js';
import { applyEntry } from '../run-model.js';
import { setTestHook } from '../test-hook.js';
import { coalesce } from '../throttle.js';
import { ChangePanel } from './change-panel.js';
import { ErrorBox } from './error-box.js';
import { GraphCanvas } from './graph-canvas.js';
import { HistoryPanel, type HistoryState } from './history-panel.js';
import { NodePanel } from './node-panel.js';

/** The run as shown at an older graph version: each node with the state the server replayed for that version (`graph.states`). */
function runAtVersion(run: RunView, graph: GraphView): RunView {
  const nodes: RunView['nodes'] = {};
  for (const node of graph.nodes) {
    const now = run.nodes[node.id];
    const status = graph.states?.[node.id] ?? now?.status ?? 'waiting';
    nodes[node.id] = now === undefined ? { id: node.id, kind: node.kind, name: node.name, status, attempt: 0, persistent: node.persistent } : { ...now, status };
  }
  return { ...run, nodes };
}

/** What the graph shows: the live run, the graph at an older version (with the states of then), or a what-if preview. */
export type Shown = { kind: 'live' } | { kind: 'version'; graph: GraphView } | { kind: 'preview'; graph: GraphView; run: RunView };

interface Live {
  run?: RunView;
  layout?: Layout;
  history: HistoryState;
  /** Entries streamed while a history page was loading: appended after it when it was the last page. */
  streamed: HistoryEntry[];
}

const HISTORY_PAGE = 200;

/** The run view. */
export function RunPage({ id, me }: { id: string; me: Me }) {
  const live = useRef<Live>({ history: { entries: [], loading: true }, streamed: [] }).current;
  const renderer = useRef<GraphRenderer | undefined>(undefined);
  const [, setTick] = useState(0);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [shown, setShown] = useState<Shown>({ kind: 'live' });
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const [tab, setTab] = useState<'node' | 'history' | 'change'>('node');
  const frame = useRef(0);
  const path = `/api/runs/${encodeURIComponent(id)}`;

  /** Re-renders at the next frame (stream entries come in bursts). */
  const bump = (): void => {
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setTick((n) => n + 1);
    });
  };

  const refetch = useRef(
    coalesce(async () => {
      try {
        adopt(await get<RunView>(path));
      } catch (failure) {
        if (failure instanceof ApiError) setError(failure);
      }
    }),
  ).current;

  function adopt(run: RunView): void {
    if (live.layout === undefined) {
      const started = performance.now();
      live.layout = layoutGraph(run.graph);
      const hook = window.__taskwire;
      if (hook !== undefined) hook.layoutMs = performance.now() - started;
    } else if (live.run?.graph.version !== run.graph.version) live.layout = patchLayout(live.layout, run.graph);
    live.run = run;
    setError(undefined);
    bump();
  }

  function onEntry(entry: HistoryEntry): void {
    const run = live.run!;
    const applied = applyEntry(run, entry);
    // Entries carry no results: the selected node's result is fetched with the run.
    if (applied === 'refetch' || (applied === 'changed' && entry.type === 'node.succeeded' && entry.node === selectedRef.current)) refetch();
    if (live.history.loading) live.streamed.push(entry);
    else appendLive([entry]);
    bump();
  }

  /** Appends streamed entries to the history when it is loaded to its end (each once, in order). */
  function appendLive(streamed: HistoryEntry[]): void {
    const history = live.history;
    if (history.next !== undefined) return;
    for (const entry of streamed) if (entry.seq > (history.entries[history.entries.length - 1]?.seq ?? 0)) history.entries.push(entry);
  }

  async function loadHistory(): Promise<void> {
    const history = live.history;
    history.loading = true;
    bump();
    const last = history.entries[history.entries.length - 1]?.seq;
    let page: { entries: HistoryEntry[]; next?: number };
    try {
      page = await get<{ entries: HistoryEntry[]; next?: number }>(`${path}/history${query({ after: last, limit: HISTORY_PAGE })}`);
    } catch (failure) {
      // "Load more" tries again from where it was.
      history.loading = false;
      history.next = last ?? 0;
      bump();
      throw failure;
    }
    const fresh = page.entries.filter((e) => e.seq > (history.entries[history.entries.length - 1]?.seq ?? 0));
    history.entries.push(...fresh);
    history.next = page.next;
    history.loading = false;
    appendLive(live.streamed.splice(0).sort((a, b) => a.seq - b.seq));
    bump();
  }

  useEffect(() => {
    setTestHook({
      nodeState: (node) => (live.layout?.index.has(node) === true ? shownState(live.run?.nodes[node]) : undefined),
      nodePoint: (node) => renderer.current?.clientPoint(node),
    });
    const stop = new AbortController();
    const early: HistoryEntry[] = [];
    let opened = false;
    followHistory(
      id,
      stop.signal,
      (entry) => (live.run === undefined ? early.push(entry) : onEntry(entry)),
      () => {
        if (opened) refetch(); // a reconnection: entries may have been missed
        opened = true;
      },
    );
    get<RunView>(path).then(
      (run) => {
        adopt(run);
        for (const entry of early) if (entry.at > run.updatedAt) onEntry(entry);
      },
      (failure: ApiError) => setError(failure),
    );
    loadHistory().catch((failure: ApiError) => setError(failure));
    return () => {
      stop.abort();
      cancelAnimationFrame(frame.current);
      setTestHook(undefined);
    };
  }, [id]);

  const run = live.run;
  const layout = live.layout;

  // Draw what is shown: looks are recomputed (O(nodes)), the layout only patched.
  useEffect(() => {
    const view = renderer.current;
    if (run === undefined || layout === undefined || view === undefined) return;
    if (shown.kind === 'live') {
      const looks = graphLooks(run.graph, layout, run);
      view.setGraph(layout, looks);
    } else {
      const patched = patchLayout(layout, shown.graph);
      const added = new Set(shown.graph.nodes.filter((n) => !layout.index.has(n.id)).map((n) => n.id));
      const looks = graphLooks(shown.graph, patched, shown.kind === 'preview' ? shown.run : runAtVersion(run, shown.graph), added);
      view.setGraph(patched, looks);
    }
    view.select(selected);
    const hook = window.__taskwire;
    if (hook !== undefined && hook.graphReadyAt === undefined) requestAnimationFrame(() => (hook.graphReadyAt ??= performance.now()));
  });

  if (run === undefined) return error === undefined ? <p class="loading">Loading run…</p> : <ErrorBox error={error} />;
  const shownRun = shown.kind === 'preview' ? shown.run : shown.kind === 'version' ? runAtVersion(run, shown.graph) : run;
  const blocked = blockedNodes(run);

  return (
    <section class="run-page" data-run-id={run.id} data-status={run.status}>
      <div class="run-head">
        <h1>
          <code>{run.id}</code> <span class="flow">{run.flow}</span>
        </h1>
        <span class={`badge status-${run.status}`} data-run-status={run.status}>
          {run.status}
        </span>
        <span>graph v{run.graphVersion}</span>
        <span>created {time(run.createdAt)}</span>
        <span>updated {time(run.updatedAt)}</span>
      </div>
      <ErrorBox error={error} />
      <div class="run-body">
        <div class="graph-pane">
          {shown.kind === 'version' && (
            <div class="banner" data-banner="version">
              Graph version {shown.graph.version} (time travel: the graph and its node states as they were when the next version came).{' '}
              <button type="button" onClick={() => setShown({ kind: 'live' })}>
                Back to live
              </button>
            </div>
          )}
          {shown.kind === 'preview' && (
            <div class="banner preview" data-banner="preview">
              What-if preview: the run as it would be after the changes (graph v{shown.graph.version}, {shown.run.status}). Nothing is applied yet; new nodes dashed.{' '}
              <button type="button" onClick={() => setShown({ kind: 'live' })}>
                Close preview
              </button>
            </div>
          )}
          {run.status === 'stalled' && (
            <div class="banner stalled" data-banner="stalled">
              Stalled:{' '}
              {run.cycle !== undefined && <span>cycle {run.cycle.join(' → ')}. </span>}
              {Object.values(run.nodes)
                .filter((n) => (n.waitingFor?.inputs.length ?? 0) > 0)
                .map((n) => (
                  <span key={n.id}>
                    {n.id} misses {n.waitingFor!.inputs.join(', ')}.{' '}
                  </span>
                ))}
              (outlined in red)
            </div>
          )}
          <GraphCanvas
            onRenderer={(view) => {
              renderer.current = view;
              bump();
            }}
            onSelect={(node) => {
              setSelected(node);
              if (node !== undefined) setTab('node');
            }}
          />
          <div class="legend">
            {(Object.keys(STATE_COLOURS) as ShownState[]).map((state) => (
              <span key={state}>
                <i style={{ background: STATE_COLOURS[state] }} />
                {state}
              </span>
            ))}
            <span class="zoom">
              <button type="button" title="zoom out" onClick={() => renderer.current?.zoomBy(1 / 1.5)}>
                −
              </button>
              <button type="button" title="zoom in" onClick={() => renderer.current?.zoomBy(1.5)}>
                +
              </button>
              <button type="button" onClick={() => renderer.current?.fit()}>
                Fit
              </button>
            </span>
          </div>
        </div>
        <aside class="side">
          <div class="tabs" role="tablist">
            {(['node', 'history', 'change'] as const).map((name) => (
              <button key={name} type="button" role="tab" data-tab={name} class={tab === name ? 'active' : ''} onClick={() => setTab(name)}>
                {name === 'node' ? 'Node' : name === 'history' ? 'History' : 'Change'}
              </button>
            ))}
          </div>
          {tab === 'node' && (
            <NodePanel
              run={shownRun}
              graph={shown.kind === 'live' ? run.graph : shown.graph}
              id={selected}
              blocked={blocked}
              history={live.history.entries}
              onSelect={(node) => {
                setSelected(node);
                renderer.current?.focus(node);
              }}
            />
          )}
          {tab === 'history' && (
            <HistoryPanel
              history={live.history}
              graphVersion={run.graphVersion}
              shownVersion={shown.kind === 'version' ? shown.graph.version : undefined}
              onMore={() => void loadHistory().catch((failure: ApiError) => setError(failure))}
              onVersion={(version) => {
                if (version === run.graphVersion) setShown({ kind: 'live' });
                else get<GraphView>(`${path}/graph${query({ version })}`).then((graph) => setShown({ kind: 'version', graph }), (failure: ApiError) => setError(failure));
              }}
            />
          )}
          {tab === 'change' && (
            <ChangePanel
              run={run}
              me={me}
              selected={selected}
              onPreview={(preview) => setShown(preview === undefined ? { kind: 'live' } : { kind: 'preview', graph: preview.graph, run: preview.run })}
              onApplied={() => {
                setShown({ kind: 'live' });
                refetch();
              }}
            />
          )}
        </aside>
      </div>
    </section>
  );
}
