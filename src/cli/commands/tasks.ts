/**
 * `taskwire tasks`: the task catalog, what workers have registered (a client
 * can add nodes of these tasks by name).
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { out, printJson, table } from '../print.js';
import { clientOptions, withClient, type ClientFlags } from '../session.js';

/** Registers `tasks`. */
export function tasksCommand(program: Command): void {
  clientOptions(program.command('tasks').description('list the task catalog: the tasks workers have registered, with their inputs, policies and how many live workers have each')).action(
    async (flags: ClientFlags) => {
      const tasks = await withClient(flags, (client) => client.tasks());
      if (flags.json === true) return printJson(tasks);
      if (tasks.length === 0) return out('no tasks: no worker has registered any in this store');
      const list = (names: readonly string[] | undefined): string => (names === undefined || names.length === 0 ? '-' : names.join(','));
      const rows = tasks.map((t) => [
        t.name,
        list(t.requires),
        list(t.optional),
        list(t.provides),
        t.queue,
        String(t.retry.limit),
        t.timeoutMs === 0 ? '-' : `${t.timeoutMs}ms`,
        t.rollback ? 'yes' : 'no',
        String(t.workers.length),
      ]);
      for (const line of table([['TASK', 'REQUIRES', 'OPTIONAL', 'PROVIDES', 'QUEUE', 'RETRIES', 'TIMEOUT', 'ROLLBACK', 'WORKERS'], ...rows])) out(line);
    },
  );
}
