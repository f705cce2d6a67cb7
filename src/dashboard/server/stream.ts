/**
 * `GET /api/stream?run=<id or *>`: server-sent events of a run's history
 * entries (or every run's), fed by the client's announcements
 * (`client.watch`), with a `: ping` comment every 15 s. With
 * `DashboardDeps.tailMs`, a run's stream also reads the run's history after
 * the last entry sent, every `tailMs`: the entries of other processes, which an
 * in-process transport does not carry (a SQLite file hosted by `taskwire
 * serve`). Entries go out once each, in seq order.
 *
 * @packageDocumentation
 */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { HistoryEntry } from '../../engine/events.js';
import { checkName } from '../../model/names.js';
import type { DashboardDeps, DashboardEnv } from './app.js';
import { BadRequestError } from './query.js';

/** Time between pings on an idle stream. */
export const PING_MS = 15_000;

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
    const tailMs = run === '*' ? undefined : deps.tailMs;
    return streamSSE(c, async (stream) => {
      // Entries are written in the order announced; a write waits for the one before it.
      let writing = Promise.resolve();
      // With a tail: the last seq sent, so that an entry read and announced goes out once.
      let last = tailMs === undefined ? -1 : ((await deps.store.loadRun(run))?.seq ?? 0);
      const send = (entry: HistoryEntry): void => {
        if (tailMs !== undefined) {
          if (entry.seq <= last) return;
          last = entry.seq;
        }
        writing = writing.then(() => stream.writeSSE({ event: 'history', data: JSON.stringify(entry) })).catch(() => undefined);
      };
      const subscription = await deps.client.watch(send, run);
      const ping = setInterval(() => void (writing = writing.then(() => stream.write(': ping\n\n')).then(() => undefined).catch(() => undefined)), pingMs);
      let tailing = false;
      const tail =
        tailMs === undefined
          ? undefined
          : setInterval(() => {
              if (tailing) return;
              tailing = true;
              deps.store
                .history(run, { after: last, limit: 500 })
                .then((entries) => entries.forEach(send))
                .catch(() => undefined)
                .finally(() => (tailing = false));
            }, tailMs);
      await stream.write(': stream open\n\n');
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(ping);
      clearInterval(tail);
      await subscription.cancel();
    });
  });
}
