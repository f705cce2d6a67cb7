/**
 * `GET /api/stream?run=<id or *>`: server-sent events of a run's history
 * entries (or every run's), fed by the client's announcements
 * (`client.watch`), with a `: ping` comment every 15 s.
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
    return streamSSE(c, async (stream) => {
      // Entries are written in the order announced; a write waits for the one before it.
      let writing = Promise.resolve();
      const send = (entry: HistoryEntry): void => {
        writing = writing.then(() => stream.writeSSE({ event: 'history', data: JSON.stringify(entry) })).catch(() => undefined);
      };
      const subscription = await deps.client.watch(send, run);
      const ping = setInterval(() => void (writing = writing.then(() => stream.write(': ping\n\n')).then(() => undefined).catch(() => undefined)), pingMs);
      await stream.write(': stream open\n\n');
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(ping);
      await subscription.cancel();
    });
  });
}
