/**
 * Workers and queues: live workers (host, pid, tasks, executions in flight,
 * last heartbeat), queue depths and dead-letter counts, and a queue's
 * dead-lettered messages, which an operator can send back. Refreshed every few seconds.
 *
 * @packageDocumentation
 */
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, get, post, query } from '../api.js';
import type { DeadMessage, Me, QueuesView, WorkerBeat } from '../api-types.js';
import { json, time } from '../format.js';
import { ErrorBox } from './error-box.js';
import { TableHead } from './table-head.js';

const REFRESH_MS = 5_000;

function DeadLetters({ queue, me, onRequeued }: { queue: string; me: Me; onRequeued: () => void }) {
  const [messages, setMessages] = useState<DeadMessage[] | undefined>(undefined);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [reloads, setReloads] = useState(0);
  const path = `/api/queues/${encodeURIComponent(queue)}/dead`;
  useEffect(() => {
    get<{ messages: DeadMessage[] }>(`${path}${query({ limit: 20 })}`).then((answer) => setMessages(answer.messages), (failure: ApiError) => setError(failure));
  }, [queue, reloads]);
  return (
    <div class="dead-letters" data-queue={queue}>
      <h3>Dead letters of {queue}</h3>
      <ErrorBox error={error} />
      {messages?.length === 0 && <p>None.</p>}
      <ul>
        {messages?.map((m) => (
          <li key={m.id}>
            <label>
              <input
                type="checkbox"
                checked={chosen.has(m.id)}
                disabled={me.role !== 'operator'}
                onChange={() => {
                  const next = new Set(chosen);
                  if (!next.delete(m.id)) next.add(m.id);
                  setChosen(next);
                }}
              />{' '}
              <code>{m.id}</code> {m.task ?? ''} {m.runId !== undefined && <a href={`#/runs/${encodeURIComponent(m.runId)}`}>{m.runId}</a>} {m.node ?? ''} <i>{m.reason ?? ''}</i>{m.sentBack !== undefined && <i> · sent back {m.sentBack}×</i>}
            </label>
            <pre>{json(m.body)}</pre>
          </li>
        ))}
      </ul>
      <button
        type="button"
        disabled={me.role !== 'operator' || chosen.size === 0}
        onClick={() => {
          post<{ requeued: number }>(`${path}/requeue`, { ids: [...chosen] }).then(
            () => {
              setChosen(new Set());
              setReloads((n) => n + 1);
              onRequeued();
            },
            (failure: ApiError) => setError(failure),
          );
        }}
      >
        Send back
      </button>
    </div>
  );
}

/** The workers and queues view. */
export function WorkersPage({ me }: { me: Me }) {
  const [workers, setWorkers] = useState<WorkerBeat[] | undefined>(undefined);
  const [queues, setQueues] = useState<QueuesView | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [reloads, setReloads] = useState(0);
  useEffect(() => {
    const load = (): void => {
      get<WorkerBeat[]>('/api/workers').then(setWorkers, (failure: ApiError) => setError(failure));
      get<QueuesView>('/api/queues').then(setQueues, (failure: ApiError) => setError(failure));
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloads]);
  return (
    <section class="workers">
      <ErrorBox error={error} />
      <h2>Workers</h2>
      <table class="table">
        <TableHead columns={['Worker', 'Host', 'Pid', 'Version', 'Tasks', 'In flight', 'Last beat']} />
        <tbody>
          {workers?.map((w) => (
            <tr key={w.id} data-worker={w.id}>
              <td>
                <code>{w.id}</code>
              </td>
              <td>{w.host}</td>
              <td>{w.pid}</td>
              <td>{w.version}</td>
              <td>{w.tasks.join(', ')}</td>
              <td>
                {w.running.length} / {w.concurrency * Math.max(1, w.queues.length)}
                {w.running.length > 0 && <pre>{json(w.running)}</pre>}
              </td>
              <td>{time(w.beatAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {workers?.length === 0 && <p class="empty">No live worker.</p>}
      <h2>Queues</h2>
      {queues?.note !== undefined && <p class="note">{queues.note}</p>}
      <table class="table">
        <TableHead columns={['Queue', 'Messages', 'Consumers', 'Dead letters']} />
        <tbody>
          {queues?.queues.map((q) => (
            <tr key={q.name} data-queue={q.name}>
              <td>
                <code>{q.name}</code>
              </td>
              <td>{q.messages}</td>
              <td>{q.consumers}</td>
              <td>
                {q.deadLetters}{' '}
                {q.deadLetters > 0 && (
                  <button type="button" onClick={() => setOpen(q.name)}>
                    inspect
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {open !== undefined && <DeadLetters queue={open} me={me} onRequeued={() => setReloads((n) => n + 1)} />}
    </section>
  );
}
