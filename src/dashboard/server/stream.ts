/**
 * `GET /api/stream?run=<id or *>`: server-sent events of a run's history
 * entries (or every run's), fed by the client's announcements
 * (`client.watch`), with a `: ping` comment every 15 s. With
 * `DashboardDeps.tailMs`, a run's stream also reads the run's history after
 * the last entry sent, every `tailMs`: the entries of other processes, which an
 * in-process transport does not carry (a SQLite file hosted by `taskwire
 * serve`). Entries go out once each, in seq order. The all-runs stream with
 * `tailMs` reads the newest runs every `tailMs` instead, and sends a
 * `run.status` entry for each run that is new or whose status or last change
 * moved since the read before (what the runs list follows).
 *
 * @packageDocumentation
 */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { HistoryEntry } from '../../engine/events.js';
import type { RunSummary } from '../../store/port.js';
import { checkName } from '../../model/names.js';
import type { DashboardDeps, DashboardEnv } from './app.js';
import { BadRequestError } from './query.js';

/** Time between pings on an idle stream. */
export const PING_MS = 15_000;

/** How many of the newest runs the all-runs tail reads each time (the runs list's first pages). */
export const TAILED_RUNS = 200;

/** Every `tailMs`, reads the history of run `run` after the last entry sent (`after()`) and sends it. Returns the timer. */
function tailRun(store: DashboardDeps['store'], run: string, tailMs: number, after: () => number, send: (entry: HistoryEntry) => void): NodeJS.Timeout {
  let reading = false;
  return setInterval(() => {
    if (reading) return;
    reading = true;
    store
      .history(run, { after: after(), limit: 500 })
      .then((entries) => entries.forEach(send))
      .catch(() => undefined)
      .finally(() => (reading = false));
  }, tailMs);
}

/**
 * Reads the newest runs now, then every `tailMs`, and sends a `run.status`
 * entry for each that is new or changed since the read before. Resolves with
 * the timer once the first read is done (what the stream's client has seen).
 */
async function tailRuns(store: DashboardDeps['store'], tailMs: number, send: (entry: HistoryEntry) => void): Promise<NodeJS.Timeout> {
  const read = async (): Promise<Map<string, RunSummary>> => new Map((await store.listRuns({ limit: TAILED_RUNS })).map((r) => [r.id, r]));
  let seen = await read().catch(() => new Map<string, RunSummary>());
  let reading = false;
  return setInterval(() => {
    if (reading) return;
    reading = true;
    read()
      .then((now) => {
        for (const r of now.values()) {
          const before = seen.get(r.id);
          if (before?.status !== r.status || before.updatedAt !== r.updatedAt) send({ runId: r.id, seq: 0, at: r.updatedAt, type: 'run.status', graphVersion: r.graphVersion, status: r.status });
        }
        seen = now;
      })
      .catch(() => undefined)
      .finally(() => (reading = false));
  }, tailMs);
}

/** Registers the stream route. */
export function streamRoute(app: Hono<DashboardEnv>, deps: DashboardDeps, pingMs = PING_MS): void {
  app.get('/api/stream', (c) => {
    const run = c.req.query('run') ?? '*';
    if (run !== '*') {
      try {
        checkName(run, 'run id');
      } catch (error) {
        throw new BadRequestError((error as Error).message);
      }
    }
    const tailMs = deps.tailMs;
    const oneRun = run !== '*' && tailMs !== undefined;
    return streamSSE(c, async (stream) => {
      // Entries are written in the order announced; a write waits for the one before it.
      let writing = Promise.resolve();
      // With a tail of one run: the last seq sent, so that an entry read and announced goes out once.
      let last = oneRun ? ((await deps.store.loadRun(run))?.seq ?? 0) : -1;
      const send = (entry: HistoryEntry): void => {
        if (oneRun) {
          if (entry.seq <= last) return;
          last = entry.seq;
        }
        writing = writing.then(() => stream.writeSSE({ event: 'history', data: JSON.stringify(entry) })).catch(() => undefined);
      };
      const subscription = await deps.client.watch(send, run);
      const ping = setInterval(() => void (writing = writing.then(() => stream.write(': ping\n\n')).then(() => undefined).catch(() => undefined)), pingMs);
      const tail = tailMs === undefined ? undefined : oneRun ? tailRun(deps.store, run, tailMs, () => last, send) : await tailRuns(deps.store, tailMs, send);
      await stream.write(': stream open\n\n');
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(ping);
      clearInterval(tail);
      await subscription.cancel();
    });
  });
}
