/**
 * `taskwire workers`: the workers' heartbeat rows, with the age of their last
 * beat and the executions each is running (as `celery inspect active`).
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import type { WorkerBeat } from '../../store/port.js';
import { isLive } from '../../worker/heartbeat.js';
import { duration, out, printJson, table } from '../print.js';
import { clientOptions, withClient, type ClientFlags } from '../session.js';

/** Flags of `taskwire workers`. */
interface WorkersFlags extends ClientFlags {
  all?: boolean;
}

/** The lines of `taskwire workers`: the table, then each worker's executions. */
export function workerLines(workers: readonly WorkerBeat[], now: number): string[] {
  const rows = workers.map((w) => [
    w.id,
    w.host,
    String(w.pid),
    w.version,
    w.queues.join(','),
    String(w.concurrency),
    String(w.running.length),
    `${duration(now - w.beatAt)} ago${isLive(w, now) ? '' : ' (stale)'}`,
  ]);
  const lines = table([['WORKER', 'HOST', 'PID', 'VERSION', 'QUEUES', 'CONCURRENCY', 'RUNNING', 'LAST BEAT'], ...rows]);
  for (const w of workers.filter((w) => w.running.length > 0)) {
    lines.push('', `${w.id} is running:`);
    const executions = w.running.map((e) => [`  ${e.runId}`, e.node, `attempt ${e.attempt}`, `for ${duration(now - e.since)}`]);
    lines.push(...table(executions));
  }
  return lines;
}

/** Registers `workers`. */
export function workersCommand(program: Command): void {
  clientOptions(program.command('workers').description('list the live workers (a heartbeat within 3 of their intervals, 15 s by default) and what each is running'))
    .option('--all', 'show stale workers too (dead, or cut off from the store)')
    .action(async (flags: WorkersFlags) => {
      const workers = await withClient(flags, (client) => client.workers({ all: flags.all === true }));
      const now = Date.now();
      if (flags.json === true) return printJson(workers.map((w) => ({ ...w, stale: !isLive(w, now) })));
      if (workers.length === 0) return out(flags.all === true ? 'no workers: none has beaten in this store' : 'no live workers (--all shows stale ones)');
      for (const line of workerLines(workers, now)) out(line);
    });
}
