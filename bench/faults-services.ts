/**
 * Restarts of the shared services for `bench/faults.ts`: RabbitMQ
 * (`rabbitmqctl stop_app` / `start_app`) and PostgreSQL (`pg_ctlcluster
 * restart`). Each one brings its service back up whatever fails, and waits
 * until it answers again (`rabbitmqctl await_startup`, `pg_isready`).
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** When a service was stopped and when it answered again (epoch ms). */
export interface Outage {
  downAt: number;
  upAt: number;
}

async function command(file: string, args: string[]): Promise<void> {
  await run(file, args, { timeout: 120_000 });
}

/** Waits until `probe` succeeds (at most `timeoutMs`), polling every 200 ms. */
async function untilOk(probe: () => Promise<void>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not come back within ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** `rabbitmqctl stop_app`, then `start_app` (always, even if the stop failed) and `await_startup`. */
export async function restartRabbit(): Promise<Outage> {
  const stopAt = Date.now();
  let downAt = stopAt;
  try {
    await command('rabbitmqctl', ['stop_app']);
    downAt = Date.now();
  } finally {
    await command('rabbitmqctl', ['start_app']);
    await untilOk(() => command('rabbitmqctl', ['await_startup']), 'RabbitMQ');
  }
  return { downAt, upAt: Date.now() };
}

/** `pg_ctlcluster <version> main restart` (then `start` if that failed), and waits for `pg_isready`. */
export async function restartPostgres(): Promise<Outage> {
  const version = readdirSync('/etc/postgresql')[0];
  if (version === undefined) throw new Error('no cluster under /etc/postgresql');
  const downAt = Date.now();
  try {
    await command('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
  } catch (error) {
    await command('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']).catch(() => undefined);
    throw error;
  } finally {
    await untilOk(() => command('pg_isready', ['-h', '127.0.0.1']), 'PostgreSQL');
  }
  return { downAt, upAt: Date.now() };
}
