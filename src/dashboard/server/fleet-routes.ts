/**
 * The API of what executes runs: the task catalog, the live workers and the
 * queues (RabbitMQ only; embedded there are none).
 *
 * @packageDocumentation
 */
import type { Hono } from 'hono';
import type { DashboardDeps, DashboardEnv } from './app.js';

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

/** Registers the task, worker and queue routes. */
export function fleetRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/api/tasks', async (c) => c.json(await deps.client.tasks()));
  app.get('/api/workers', async (c) => c.json(await deps.client.workers()));
  app.get('/api/queues', (c) => {
    if (deps.transport === 'inprocess') return c.json({ queues: [], note: 'embedded: tasks are dispatched in this process, there are no queues' });
    return c.json({ queues: [], note: 'queue figures are not available yet (docs/dashboard.md)' });
  });
}
