/**
 * The RabbitMQ queues as the dashboard shows them: each work and signal
 * queue's depth and consumers (a passive declare), the dead letters that died
 * in it (`<prefix>.dead`, read without removing them), and sending dead
 * letters back to the queue they died in. One connection of its own.
 *
 * Dead letters carry no id of their own: each is named by a hash of its body
 * and where, why and when it died, so two identical letters share an id (and
 * requeuing either is the same).
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Connection, type SyncMessage } from 'rabbitmq-client';
import { NotFoundError } from '../../errors.js';
import { createTopology, type Topology } from '../../transport/amqp/topology.js';
import type { QueueView } from './fleet-routes.js';

/** A dead letter as the page lists it. */
export interface DeadLetterView {
  /** Its id (see the module doc). */
  id: string;
  /** The task of a dispatch. */
  task?: string;
  /** The run. */
  runId?: string;
  /** The node. */
  node?: string;
  /** Why it died (`x-first-death-reason`: `delivery_limit`, `rejected`, ...). */
  reason?: string;
  /** How many times it was sent back already (and died again), when it was. */
  sentBack?: number;
  /** The body, parsed when it is JSON. */
  body: unknown;
}

/** Headers the broker adds when it dead-letters or redelivers a message. */
const BROKER_HEADER = /^x-(death|first-death-|last-death-|delivery-count)/;

/** How many dead letters are read at most to count and list them. */
export const DEAD_SCAN_LIMIT = 500;

/** The header counting how many times a letter was sent back from the dashboard. */
export const SENT_BACK_HEADER = 'x-taskwire-sent-back';

/** How many times `message` was sent back already. */
const sentBack = (message: SyncMessage): number => {
  const value = Number(message.headers?.[SENT_BACK_HEADER] ?? 0);
  return Number.isInteger(value) && value > 0 ? value : 0;
};

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined);

function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  return typeof body === 'string' ? body : JSON.stringify(body ?? null);
}

/** Where a letter died, and its view. */
function viewOf(message: SyncMessage): { queue: string | undefined; view: DeadLetterView } {
  const headers = message.headers ?? {};
  const queue = text(headers['x-first-death-queue']);
  const reason = text(headers['x-first-death-reason']);
  const raw = bodyText(message.body);
  const deaths = JSON.stringify(headers['x-death'] ?? null);
  const returns = sentBack(message);
  const id = createHash('sha256').update(`${queue ?? ''}\n${reason ?? ''}\n${deaths}\n${returns}\n${raw}`).digest('base64url').slice(0, 22);
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // not JSON: the text
  }
  const view: DeadLetterView = { id, body };
  if (reason !== undefined) view.reason = reason;
  if (returns > 0) view.sentBack = returns;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    for (const key of ['task', 'runId', 'node'] as const) if (typeof fields[key] === 'string') view[key] = fields[key];
  }
  return { queue, view };
}

/** Reads and requeues a prefix's queues. */
export class AmqpQueues {
  private readonly connection: Connection;
  private readonly topology: Topology;

  constructor(url: string, options: { prefix?: string; shards: number }) {
    this.topology = createTopology({ ...(options.prefix === undefined ? {} : { prefix: options.prefix }), shards: options.shards });
    this.connection = new Connection({ url, connectionName: 'taskwire dashboard', retryLow: 200, retryHigh: 15_000 });
    // Errors surface on the calls; reconnection is the client's.
    this.connection.on('error', () => undefined);
  }

  /** Depth, consumers and dead letters of the work queues named (those of the live workers) and the signal queues. */
  async figures(workQueues: readonly string[]): Promise<QueueView[]> {
    const names = [...new Set(workQueues)].sort().map((q) => this.topology.workQueueName(q));
    for (let s = 0; s < this.topology.shards; s++) names.push(this.topology.signalQueueName(s));
    const dead = new Map<string, number>();
    for (const { queue } of await this.scan()) if (queue !== undefined) dead.set(queue, (dead.get(queue) ?? 0) + 1);
    const views: QueueView[] = [];
    for (const name of names) {
      try {
        const ok = await this.connection.queueDeclare({ queue: name, passive: true });
        views.push({ name, messages: ok.messageCount, consumers: ok.consumerCount, deadLetters: dead.get(name) ?? 0 });
      } catch {
        // not declared (yet): no worker has consumed it
      }
    }
    return views;
  }

  /** The dead letters that died in `queue` (of the first {@link DEAD_SCAN_LIMIT}), at most `limit`. */
  async dead(queue: string, limit: number): Promise<DeadLetterView[]> {
    return (await this.scan()).filter((l) => l.queue === queue).slice(0, limit).map((l) => l.view);
  }

  /**
   * Sends the dead letters `ids` that died in `queue` back to it (published to
   * it, then removed from the dead-letter queue); returns how many.
   */
  async requeue(queue: string, ids: readonly string[]): Promise<number> {
    const wanted = new Set(ids);
    const channel = await this.connection.acquire();
    let requeued = 0;
    try {
      await channel.confirmSelect();
      for (let i = 0; i < DEAD_SCAN_LIMIT && wanted.size > 0; i++) {
        const message = await channel.basicGet({ queue: this.topology.queues.dead, noAck: false });
        if (message === undefined) break;
        const { queue: died, view } = viewOf(message);
        if (died !== queue || !wanted.has(view.id)) continue;
        // The broker's death records go; the message's own headers (trace, signature) stay, and it counts its returns.
        const headers: Record<string, unknown> = Object.fromEntries(Object.entries(message.headers ?? {}).filter(([key]) => !BROKER_HEADER.test(key)));
        headers[SENT_BACK_HEADER] = sentBack(message) + 1;
        await channel.basicPublish({ exchange: '', routingKey: queue, headers, durable: true, ...(message.contentType === undefined ? {} : { contentType: message.contentType }) }, message.body);
        channel.basicAck({ deliveryTag: message.deliveryTag });
        wanted.delete(view.id);
        requeued++;
      }
    } finally {
      // The letters not requeued go back to the dead-letter queue.
      await channel.close();
    }
    if (requeued === 0 && ids.length > 0) throw new NotFoundError(`no dead letter of queue "${queue}" has the ids given`);
    return requeued;
  }

  private async scan(): Promise<{ queue: string | undefined; view: DeadLetterView }[]> {
    const channel = await this.connection.acquire();
    const letters: { queue: string | undefined; view: DeadLetterView }[] = [];
    try {
      for (let i = 0; i < DEAD_SCAN_LIMIT; i++) {
        const message = await channel.basicGet({ queue: this.topology.queues.dead, noAck: false });
        if (message === undefined) break;
        letters.push(viewOf(message));
      }
    } catch {
      // no dead-letter queue yet: none
    } finally {
      await channel.close().catch(() => undefined);
    }
    return letters;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.connection.close();
  }
}
