/**
 * The API of what executes runs: the task catalog, the live workers, the cron
 * schedules and the queues (RabbitMQ only; embedded there are none).
 *
 * @packageDocumentation
 */
import type { Hono } from 'hono';
import { NotFoundError } from '../../errors.js';
import type { DashboardDeps, DashboardEnv } from './app.js';
import { BadRequestError, intParam, listField, objectBody } from './query.js';
import { DEAD_SCAN_LIMIT } from './queues.js';

/** A work queue's figures. */
export interface QueueView {
  /** Queue name. */
  name: string;
  /** Messages ready in it. */
  messages: number;
  /** Consumers (workers' channels) on it. */
  consumers: number;
  /** Messages in its dead-letter queue. */
  deadLetters: number;
}

/** Registers the task, worker, schedule and queue routes. */
export function fleetRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/api/tasks', async (c) => c.json(await deps.client.tasks()));
  app.get('/api/workers', async (c) => c.json(await deps.client.workers()));
  app.get('/api/schedules', async (c) => c.json(await deps.client.schedules()));
  app.get('/api/queues', async (c) => {
    const queues = deps.queues;
    if (queues === undefined) return c.json({ queues: [], note: 'embedded: tasks are dispatched in this process, there are no queues' });
    const workers = await deps.client.workers();
    return c.json({ queues: await queues.figures(['default', ...workers.flatMap((w) => w.queues)]) });
  });
  app.get('/api/queues/:name/dead', async (c) => {
    const limit = intParam(c.req.query('limit'), 'limit', 1, DEAD_SCAN_LIMIT, 20) as number;
    return c.json({ messages: deps.queues === undefined ? [] : await deps.queues.dead(c.req.param('name'), limit) });
  });
  app.post('/api/queues/:name/dead/requeue', async (c) => {
    const ids = listField(await objectBody(c.req), 'ids');
    if (!ids.every((id) => typeof id === 'string')) throw new BadRequestError('"ids" must be a list of strings');
    if (deps.queues === undefined) throw new NotFoundError('embedded: there are no queues');
    return c.json({ requeued: await deps.queues.requeue(c.req.param('name'), ids) });
  });
}
