/**
 * `taskwire serve --tasks <module>`: the long-lived embedded host of a store file.
 * It executes the module's tasks, resumes the runs of the store that use them
 * (runs left by an interrupted `taskwire run` included) and carries out the
 * changes other commands make to them, until SIGTERM or SIGINT (which drain as
 * `taskwire worker` does). It refuses to start while another live process
 * executes the file; a `taskwire run` started meanwhile hands its run to it.
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { createLogger, type LogFormat } from '../../observability/pino-logger.js';
import { connect } from '../../runtime/connect.js';
import { openStore } from '../../runtime/open-store.js';
import { checkUnserved, startOnFile } from '../embedded-hosts.js';
import { loadTasks } from '../load-flow.js';
import { conditionsOf, conditionsOption, connectionOptions, logFormatOption, retentionOf, retentionOption, parseInteger, storeOption, type ConnectionFlags } from '../options.js';
import { untilSignal } from './worker.js';

interface ServeFlags extends ConnectionFlags {
  tasks: string;
  conditions?: string;
  concurrency: string;
  logFormat: LogFormat;
  retention?: number;
}

/** Registers the `serve` command. */
export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description("host a store file's runs embedded: execute the tasks of a module, resume the runs that use them, carry out changes; SIGTERM drains")
    .addOption(new Option('--tasks <module>', 'module exporting the tasks (a flow file will do: its tasks and every task it exports)').env('TASKWIRE_TASKS').makeOptionMandatory())
    .addOption(conditionsOption())
    .addOption(new Option('-c, --concurrency <n>', 'tasks executed at once').env('TASKWIRE_CONCURRENCY').default('16'))
    .addOption(storeOption())
    .addOption(logFormatOption())
    .addOption(retentionOption())
    .action(async (flags: ServeFlags) => {
      const concurrency = parseInteger(flags.concurrency, '--concurrency', 1, 65_535);
      const logger = createLogger({ base: { role: 'serve' }, format: flags.logFormat });
      const tasks = await loadTasks(flags.tasks);
      const conditions = await conditionsOf(flags);
      const store = await openStore(flags.store, { distributed: false });
      // One process serves a file: a second one would carry out the same runs.
      const client = await startOnFile(store, checkUnserved, () => connect({ ...connectionOptions(flags), store, tasks, conditions, concurrency, resume: true, ...retentionOf(flags), logger }));
      const live = await client.runs({ status: ['scheduled', 'running', 'stalled', 'listening', 'stopping', 'rolling_back'] });
      // Embedded, nothing else holds the event loop open while no run has work: the host waits for its signal.
      const alive = setInterval(() => undefined, 1 << 30);
      const stopped = untilSignal(logger, async () => {
        await client.close();
        clearInterval(alive);
      });
      logger.info({ tasks: tasks.map((t) => t.name), file: flags.store ?? '.taskwire/taskwire.db', unfinishedRuns: live.length }, 'serving');
      await stopped;
    });
}
