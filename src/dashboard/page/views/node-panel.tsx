/**
 * The selected node: state, timings and attempts, inputs (bound, and the links
 * that feed it), what it waits for, result, error with its stack, and a
 * persistent listener's activations. Its root carries `data-node-id` and
 * `data-node-state` (what the canvas shows, for tests).
 *
 * @packageDocumentation
 */
import { useEffect, useState } from 'preact/hooks';
import { get, query } from '../api.js';
import type { ActivationState, GraphView, HistoryEntry, RunView } from '../api-types.js';
import { duration, json, time } from '../format.js';
import { linkLabel } from '../graph/looks.js';
import { shownState } from '../graph/palette.js';
import type { NodeView } from '../api-types.js';
import { TableHead } from './table-head.js';

interface Attempt {
  attempt: number;
  startedAt?: number;
  endedAt?: number;
  outcome: string;
  message?: string;
}

/** The node's attempts, from the history entries loaded. */
function attempts(entries: HistoryEntry[], node: string): Attempt[] {
  const byAttempt = new Map<number, Attempt>();
  for (const entry of entries) {
    if (entry.node !== node || entry.attempt === undefined || entry.activation !== undefined || !entry.type.startsWith('node.')) continue;
    const row = byAttempt.get(entry.attempt) ?? { attempt: entry.attempt, outcome: 'running' };
    byAttempt.set(entry.attempt, row);
    if (entry.type === 'node.started') row.startedAt = entry.at;
    else {
      row.endedAt = entry.at;
      row.outcome = entry.type.slice('node.'.length);
      const message = entry.detail?.['message'];
      if (typeof message === 'string') row.message = message;
    }
  }
  return [...byAttempt.values()];
}

function Failure({ title, error }: { title: string; error: NonNullable<NodeView['error']> }) {
  return (
    <div class="failure" data-field={title}>
      <h3>{title}</h3>
      <p>
        <b>{error.name}</b>
        {error.code !== undefined && <code> {error.code}</code>}: <span class="error-message">{error.message}</span>
      </p>
      {error.stack !== undefined && <pre class="stack">{error.stack}</pre>}
    </div>
  );
}

function Activations({ run, node }: { run: RunView; node: string }) {
  const [list, setList] = useState<ActivationState[] | undefined>(undefined);
  useEffect(() => {
    let current = true;
    get<{ activations: ActivationState[] }>(`/api/runs/${encodeURIComponent(run.id)}/nodes/${encodeURIComponent(node)}/activations${query({ limit: 50 })}`).then(
      (answer) => current && setList(answer.activations),
      () => current && setList([]),
    );
    return () => {
      current = false;
    };
  }, [run.id, node, run.updatedAt]);
  if (list === undefined) return <p>Loading activations…</p>;
  if (list.length === 0) return <p>No activations yet.</p>;
  return (
    <table class="table compact">
      <TableHead columns={['#', 'from', 'state', 'inputs', 'result / error']} />
      <tbody>
        {list.map((a) => (
          <tr key={a.seq} data-activation={a.seq}>
            <td>{a.seq}</td>
            <td>{a.from}</td>
            <td>
              <span class={`badge state-${a.status}`}>{a.status}</span> ×{a.attempt}
            </td>
            <td>
              <pre>{json(a.inputs)}</pre>
            </td>
            <td>{a.error !== undefined ? <span class="error-message">{a.error.message}</span> : <pre>{json(a.result)}</pre>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NodeFinder({ graph, onSelect }: { graph: GraphView; onSelect: (id: string) => void }) {
  const [text, setText] = useState('');
  const known = new Set(graph.nodes.map((n) => n.id));
  return (
    <form
      class="finder"
      onSubmit={(e) => {
        e.preventDefault();
        if (known.has(text)) onSelect(text);
      }}
    >
      <input list="node-ids" placeholder="node id" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <datalist id="node-ids">{graph.nodes.length <= 2_000 && graph.nodes.map((n) => <option key={n.id} value={n.id} />)}</datalist>
      <button type="submit">Find</button>
    </form>
  );
}

/** The node panel. */
export function NodePanel({ run, graph, id, blocked, history, onSelect }: { run: RunView; graph: GraphView; id: string | undefined; blocked: Set<string>; history: HistoryEntry[]; onSelect: (id: string) => void }) {
  const def = id === undefined ? undefined : graph.nodes.find((n) => n.id === id);
  if (id === undefined || def === undefined) {
    return (
      <div class="panel node-panel">
        <p>Click a node on the graph (drag to pan, wheel to zoom), or find one:</p>
        <NodeFinder graph={graph} onSelect={onSelect} />
      </div>
    );
  }
  const node = run.nodes[id];
  const state = shownState(node);
  const sources = graph.links.filter((l) => l.to === id);
  const listeners = graph.links.filter((l) => l.from === id);
  const tries = attempts(history, id);
  return (
    <div class="panel node-panel" data-node-id={id} data-node-state={state}>
      <NodeFinder graph={graph} onSelect={onSelect} />
      <h2>
        {def.kind === 'event' ? '⚡ ' : ''}
        {def.name} {def.id !== def.name && <code>{def.id}</code>}
      </h2>
      <p>
        <span class={`badge state-${state.replace(' ', '-')}`} data-field="state">
          {state}
        </span>{' '}
        {def.kind}
        {def.persistent ? ' · persistent listener' : ''} · attempt {node?.attempt ?? 0}
        {node?.undo !== undefined && ` · rollback ${node.undo}`}
      </p>
      {blocked.has(id) && <p class="error">This node blocks the stalled run.</p>}
      <dl class="timings">
        <dt>queued</dt>
        <dd data-field="queuedAt">{time(node?.queuedAt)}</dd>
        <dt>started</dt>
        <dd data-field="startedAt">{time(node?.startedAt)}</dd>
        <dt>finished</dt>
        <dd data-field="finishedAt">{time(node?.finishedAt)}</dd>
        <dt>waited</dt>
        <dd data-field="queueTime">{duration(node?.queuedAt, node?.startedAt)}</dd>
        <dt>ran</dt>
        <dd data-field="runTime">{duration(node?.startedAt, node?.finishedAt)}</dd>
      </dl>
      {node?.waitingFor !== undefined && (node.waitingFor.sources.length > 0 || node.waitingFor.inputs.length > 0) && (
        <div data-field="waitingFor">
          <h3>Waits for</h3>
          {node.waitingFor.sources.length > 0 && <p>sources: {node.waitingFor.sources.join(', ')}</p>}
          {node.waitingFor.inputs.length > 0 && <p class="error">inputs with no value: {node.waitingFor.inputs.join(', ')}</p>}
        </div>
      )}
      <h3>Inputs</h3>
      <ul class="links" data-field="sources">
        {sources.map((l) => (
          <li key={l.from}>
            ← <a onClick={() => onSelect(l.from)}>{l.from}</a> {linkLabel(l) !== undefined && <code>{linkLabel(l)}</code>}
          </li>
        ))}
        {sources.length === 0 && <li>no sources</li>}
      </ul>
      {def.inputs !== undefined && (
        <>
          <h4>bound</h4>
          <pre data-field="bound">{json(def.inputs)}</pre>
        </>
      )}
      {node?.inputs !== undefined && (
        <>
          <h4>given to attempt {node.attempt}</h4>
          <pre data-field="inputs">{json(node.inputs)}</pre>
        </>
      )}
      {listeners.length > 0 && (
        <>
          <h3>Listeners</h3>
          <ul class="links">
            {listeners.map((l) => (
              <li key={l.to}>
                → <a onClick={() => onSelect(l.to)}>{l.to}</a>
              </li>
            ))}
          </ul>
        </>
      )}
      {node?.result !== undefined && (
        <>
          <h3>Result</h3>
          <pre data-field="result">{json(node.result)}</pre>
        </>
      )}
      {node?.error !== undefined && <Failure title="Error" error={node.error} />}
      {node?.undoError !== undefined && <Failure title="Rollback error" error={node.undoError} />}
      {tries.length > 0 && (
        <>
          <h3>Attempts</h3>
          <table class="table compact" data-field="attempts">
            <tbody>
              {tries.map((t) => (
                <tr key={t.attempt}>
                  <td>#{t.attempt}</td>
                  <td>{time(t.startedAt)}</td>
                  <td>{duration(t.startedAt, t.endedAt)}</td>
                  <td>{t.outcome}</td>
                  <td class="error-text">{t.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {def.persistent && (
        <>
          <h3>Activations</h3>
          <Activations run={run} node={id} />
        </>
      )}
    </div>
  );
}
