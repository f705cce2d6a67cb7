/**
 * Rewiring a run from the page: edits (add a task's node, link, unlink,
 * relink, retry, skip, replace, remove, cancel, stop) are composed into one
 * change list; "Preview" shows the validation result and the run as it would
 * be after it (nothing written), "Apply" posts it all or nothing. An event can
 * be notified. Viewers see the controls disabled (the server refuses anyway).
 *
 * @packageDocumentation
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api.js';
import type { ApiErrorBody, CatalogTask, ChangeJson, GraphView, Me, RunView } from '../api-types.js';
import { EMPTY_DRAFT, FIELDS, OPS, changeOf, type Draft, type Op } from '../change-draft.js';
import { ErrorBox } from './error-box.js';

const LABELS: Partial<Record<keyof Draft, string>> = {
  task: 'task',
  id: 'node id (default: the task name)',
  node: 'node',
  from: 'from',
  to: 'to',
  sources: 'sources (ids, comma-separated)',
  listeners: 'listeners (ids, comma-separated)',
  map: 'input mapping of the new links (input=provided, ...)',
  result: 'result (JSON)',
};

function Notify({ run, disabled }: { run: RunView; disabled: boolean }) {
  const [event, setEvent] = useState('');
  const [payload, setPayload] = useState('{}');
  const [outcome, setOutcome] = useState<string | ApiError | undefined>(undefined);
  return (
    <form
      class="notify"
      onSubmit={(e) => {
        e.preventDefault();
        let body: unknown;
        try {
          body = JSON.parse(payload);
        } catch {
          setOutcome(new ApiError({ code: 'TW_INVALID_JSON', message: 'the payload is not JSON' }, 0));
          return;
        }
        post<{ runs: string[] }>('/api/notify', { event, payload: body, runId: run.id }).then(
          (answer) => setOutcome(`notified ${answer.runs.length} run(s)`),
          (failure: ApiError) => setOutcome(failure),
        );
      }}
    >
      <h3>Notify an event</h3>
      <input name="event" placeholder="event name" value={event} onInput={(e) => setEvent(e.currentTarget.value)} disabled={disabled} />
      <textarea name="payload" rows={2} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} disabled={disabled} />
      <button type="submit" disabled={disabled || event === ''}>
        Notify
      </button>
      {typeof outcome === 'string' ? <p class="ok">{outcome}</p> : <ErrorBox error={outcome} />}
    </form>
  );
}

/** The change composer. `onPreview` gets the what-if run (undefined: back to live); `onApplied` is called once a change list is applied. */
export function ChangePanel({
  run,
  me,
  selected,
  onPreview,
  onApplied,
}: {
  run: RunView;
  me: Me;
  selected: string | undefined;
  onPreview: (preview: { graph: GraphView; run: RunView } | undefined) => void;
  onApplied: () => void;
}) {
  const [tasks, setTasks] = useState<CatalogTask[]>([]);
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [changes, setChanges] = useState<ChangeJson[]>([]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [outcome, setOutcome] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const viewer = me.role !== 'operator';
  useEffect(() => {
    get<CatalogTask[]>('/api/tasks').then(setTasks, (failure: ApiError) => setError(failure));
  }, []);
  useEffect(() => {
    if (selected !== undefined && draft.node === '') setDraft({ ...draft, node: selected });
  }, [selected]);
  const nodeIds = run.graph.nodes.length <= 2_000 ? run.graph.nodes.map((n) => n.id) : [];

  const edited = (next: ChangeJson[]): void => {
    setChanges(next);
    setError(undefined);
    setOutcome(undefined);
    onPreview(undefined);
  };
  const send = async (kind: 'preview' | 'changes'): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setOutcome(undefined);
    try {
      const path = `/api/runs/${encodeURIComponent(run.id)}/${kind}`;
      if (kind === 'preview') {
        const answer = await post<{ ok: true; graph: GraphView; run: RunView } | { ok: false; error: ApiErrorBody }>(path, { changes });
        if (answer.ok) {
          setOutcome(`Valid: the run would be ${answer.run.status} at graph v${answer.graph.version}.`);
          onPreview({ graph: answer.graph, run: answer.run });
        } else {
          setError(new ApiError(answer.error, 422));
          onPreview(undefined);
        }
      } else {
        const answer = await post<{ ok: true; report: { status: string; graphVersion: number } }>(path, { changes });
        setChanges([]);
        setOutcome(`Applied: the run is ${answer.report.status} at graph v${answer.report.graphVersion}.`);
        onApplied();
      }
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError({ code: 'TW_PAGE', message: String(failure) }, 0));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="panel change-panel" data-viewer={viewer ? 'yes' : 'no'}>
      {viewer && <p class="note">You are a viewer: changes need an operator token.</p>}
      <form
        class="compose"
        onSubmit={(e) => {
          e.preventDefault();
          try {
            edited([...changes, changeOf(draft)]);
            setDraft({ ...EMPTY_DRAFT, op: draft.op });
          } catch (failure) {
            setError(new ApiError({ code: 'TW_PAGE', message: String(failure) }, 0));
          }
        }}
      >
        <label>
          edit
          <select name="op" value={draft.op} disabled={viewer} onChange={(e) => setDraft({ ...draft, op: e.currentTarget.value as Op })}>
            {OPS.map((op) => (
              <option key={op} value={op}>
                {op}
              </option>
            ))}
          </select>
        </label>
        {FIELDS[draft.op].map((field) => (
          <label key={field}>
            {LABELS[field]}
            {field === 'task' ? (
              <select name="task" value={draft.task} disabled={viewer} onChange={(e) => setDraft({ ...draft, task: e.currentTarget.value })}>
                <option value="">(choose a task)</option>
                {tasks.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.name}
                    {t.workers.length === 0 ? ' (no live worker)' : ''}
                  </option>
                ))}
              </select>
            ) : (
              <input name={field} list={['node', 'from', 'to'].includes(field) ? 'change-node-ids' : undefined} value={draft[field]} disabled={viewer} onInput={(e) => setDraft({ ...draft, [field]: e.currentTarget.value })} />
            )}
          </label>
        ))}
        <datalist id="change-node-ids">
          {nodeIds.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <button type="submit" disabled={viewer}>
          Add to the change list
        </button>
      </form>
      <h3>Change list</h3>
      <ol class="change-list">
        {changes.map((change, k) => (
          <li key={k} data-op={change.op}>
            <code>{JSON.stringify(change)}</code>{' '}
            <button type="button" title="remove from the list" onClick={() => edited(changes.filter((_, j) => j !== k))}>
              ✕
            </button>
          </li>
        ))}
        {changes.length === 0 && <li class="empty">empty</li>}
      </ol>
      <div class="actions">
        <button type="button" name="preview" disabled={viewer || busy || changes.length === 0} onClick={() => void send('preview')}>
          Preview
        </button>
        <button type="button" name="apply" class="primary" disabled={viewer || busy || changes.length === 0} onClick={() => void send('changes')}>
          Apply
        </button>
      </div>
      {outcome !== undefined && (
        <p class="ok" data-outcome>
          {outcome}
        </p>
      )}
      <ErrorBox error={error} />
      <Notify run={run} disabled={viewer} />
    </div>
  );
}
