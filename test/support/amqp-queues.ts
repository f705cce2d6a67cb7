/**
 * Whether a RabbitMQ queue exists, for tests that check what was declared or
 * deleted: a passive declare on a channel of its own (a missing queue closes
 * that channel, not the connection).
 */
import type { Connection } from 'rabbitmq-client';

/** Whether `queue` exists, asked on `connection` (already connected). */
export async function queueExists(connection: Connection, queue: string): Promise<boolean> {
  const channel = await connection.acquire();
  try {
    await channel.queueDeclare({ queue, passive: true });
    return true;
  } catch {
    return false;
  } finally {
    if (channel.active) await channel.close();
  }
}
