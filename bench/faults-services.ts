/**
 * Restarts of the shared services for `bench/faults.ts`: RabbitMQ
 * (`rabbitmqctl stop_app` / `start_app`) and PostgreSQL (`pg_ctlcluster
 * restart`). Each one brings its service back up whatever fails (a Ctrl-C
 * included), and waits until it answers again (`rabbitmqctl await_startup`,
 * `pg_isready`).
 */
import type { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** When a service was stopped and when it answered again (epoch ms). */
export interface Outage {
  downAt: number;
  upAt: number;
}

/**
 * Runs a service command in its own process group, out of reach of a Ctrl-C
 * meant for the script; fails on a non-zero exit (with its stderr) or after 2 min.
 */
function command(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${file} ${args.join(' ')}: ${signal ?? `exit ${code}`}: ${stderr.trim()}`));
    });
  });
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

/**
 * Runs `restart` with SIGINT and SIGTERM held back: an operator's Ctrl-C while
 * a service is stopped would otherwise end the script before the `finally`
 * that brings the service back. The signal is raised again afterwards.
 */
async function holdingSignals<T>(restart: () => Promise<T>): Promise<T> {
  let held: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals): void => {
    held = signal;
    console.error(`[faults] ${signal}: bringing the service back up first`);
  };
  process.on('SIGINT', hold);
  process.on('SIGTERM', hold);
  try {
    return await restart();
  } finally {
    process.off('SIGINT', hold);
    process.off('SIGTERM', hold);
    if (held !== undefined) process.kill(process.pid, held);
  }
}

/** `rabbitmqctl stop_app`, then `start_app` (always, even if the stop failed) and `await_startup`. */
export function restartRabbit(): Promise<Outage> {
  return holdingSignals(restartRabbitNow);
}

async function restartRabbitNow(): Promise<Outage> {
  const stopAt = Date.now();
  let downAt = stopAt;
  try {
    await command('rabbitmqctl', ['stop_app']);
    downAt = Date.now();
  } finally {
    await untilOk(() => command('rabbitmqctl', ['start_app']), 'RabbitMQ start_app');
    await untilOk(() => command('rabbitmqctl', ['await_startup']), 'RabbitMQ');
  }
  return { downAt, upAt: Date.now() };
}

/** `pg_ctlcluster <version> main restart` (then `start` if that failed), and waits for `pg_isready`. */
export function restartPostgres(): Promise<Outage> {
  return holdingSignals(restartPostgresNow);
}

async function restartPostgresNow(): Promise<Outage> {
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
