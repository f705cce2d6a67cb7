/**
 * The `taskwire` command line. Exit codes: 0 ok; 1 a run that did not succeed or
 * an invalid flow; 2 an error (bad usage, unknown run, refused change, ...).
 *
 * @packageDocumentation
 */
import { Command, CommanderError, Option } from 'commander';
import { activationsCommand } from './commands/activations.js';
import { controlCommands } from './commands/control.js';
import { dashboardCommands } from './commands/dashboard.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { graphCommand } from './commands/graph.js';
import { inspectCommands } from './commands/inspect.js';
import { dropCommand } from './commands/drop.js';
import { migrateCommand } from './commands/migrate.js';
import { pruneCommand } from './commands/prune.js';
import { rewireCommands } from './commands/rewire.js';
import { runCommand } from './commands/run.js';
import { schedulesCommand } from './commands/schedules.js';
import { serveCommand } from './commands/serve.js';
import { tasksCommand } from './commands/tasks.js';
import { validateCommand } from './commands/validate.js';
import { workerCommand } from './commands/worker.js';
import { workersCommand } from './commands/workers.js';
import { Interrupt } from './interrupt.js';
import { addUrlFileOptions } from './options.js';
import { packageVersion } from '../observability/version.js';

/** Builds the program (exported for tests). */
export function program(): Command {
  const cli = new Command('taskwire')
    .description('taskwire: event-driven task workflows you can rewire while they run')
    .version(packageVersion(), '-V, --version', 'print the version of taskwire')
    .addOption(new Option('--debug', 'on an error, also print its stack (and its cause\'s)').env('TASKWIRE_DEBUG'))
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    // Usage errors throw (exit code 2 below) instead of exiting with 1, which means "run not succeeded".
    .exitOverride();
  runCommand(cli);
  validateCommand(cli);
  graphCommand(cli);
  inspectCommands(cli);
  activationsCommand(cli);
  tasksCommand(cli);
  rewireCommands(cli);
  controlCommands(cli);
  serveCommand(cli);
  dashboardCommands(cli);
  workerCommand(cli);
  workersCommand(cli);
  schedulesCommand(cli);
  coordinatorCommand(cli);
  migrateCommand(cli);
  pruneCommand(cli);
  dropCommand(cli);
  addUrlFileOptions(cli);
  return cli;
}

/** Runs the CLI; errors print as one line with their code and set exit code 2. */
export async function main(argv: string[]): Promise<void> {
  // Output piped into a command that stops reading (`| head`): stop quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    // `taskwire run` handles it as an interruption (see interrupt.ts).
    if (Interrupt.listening === 0) process.exit(process.exitCode ?? 0);
  });
  // --debug: stacks through source maps (a flow file's lines, not tsx's compiled text); set before any file is loaded.
  if (argv.includes('--debug') || (process.env['TASKWIRE_DEBUG'] ?? '') !== '') process.setSourceMapsEnabled(true);
  const cli = program();
  try {
    await cli.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help); --help and --version exit 0.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`taskwire: ${(error as Error).message}${typeof code === 'string' && code.startsWith('TW_') ? ` (${code})` : ''}\n`);
    if (cli.opts<{ debug?: boolean }>().debug === true) process.stderr.write(stacks(error));
    process.exitCode = 2;
  }
}

/** A stack whose frames in a file tsx compiled to CommonJS (`data:text/javascript,…?filePath=<file>:l:c`) name the file. */
function readableStack(stack: string): string {
  // The line and column count in tsx's compiled text, not in the file: left out.
  return stack.replace(/data:text\/javascript,\S*?\?filePath=(\S+?):\d+:\d+/g, (_, file: string) => `${decodeURIComponent(file).replace(/\?namespace=.*$/, '')} (compiled)`);
}

/** The stack of `error` and of each of its causes, for `--debug`. */
function stacks(error: unknown): string {
  let text = '';
  for (let at: unknown = error, depth = 0; at !== undefined && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    text += `${depth === 0 ? '' : 'caused by: '}${readableStack(at instanceof Error ? (at.stack ?? at.message) : JSON.stringify(at))}\n`;
  }
  return text;
}

const entry = process.argv[1];
if (entry !== undefined && /[\\/]cli[\\/]main\.[jt]s$/.test(entry)) await main(process.argv);
