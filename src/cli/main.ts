/**
 * The `taskwire` command line. Exit codes: 0 ok; 1 a run that did not succeed or
 * an invalid flow; 2 an error (bad usage, unknown run, refused change, ...).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { controlCommands } from './commands/control.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { graphCommand } from './commands/graph.js';
import { inspectCommands } from './commands/inspect.js';
import { migrateCommand } from './commands/migrate.js';
import { rewireCommands } from './commands/rewire.js';
import { runCommand } from './commands/run.js';
import { tasksCommand } from './commands/tasks.js';
import { validateCommand } from './commands/validate.js';
import { workerCommand } from './commands/worker.js';
import { addUrlFileOptions } from './options.js';

/** The package's version, from its package.json (two folders up from `src/cli/` and from `dist/cli/`). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Builds the program (exported for tests). */
export function program(): Command {
  const cli = new Command('taskwire')
    .description('taskwire: event-driven task workflows you can rewire while they run')
    .version(packageVersion(), '-V, --version', 'print the version of taskwire')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    // Usage errors throw (exit code 2 below) instead of exiting with 1, which means "run not succeeded".
    .exitOverride();
  runCommand(cli);
  validateCommand(cli);
  graphCommand(cli);
  inspectCommands(cli);
  tasksCommand(cli);
  rewireCommands(cli);
  controlCommands(cli);
  workerCommand(cli);
  coordinatorCommand(cli);
  migrateCommand(cli);
  addUrlFileOptions(cli);
  return cli;
}

/** Runs the CLI; errors print as one line with their code and set exit code 2. */
export async function main(argv: string[]): Promise<void> {
  // Output piped into a command that stops reading (`| head`): stop quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help); --help and --version exit 0.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`taskwire: ${(error as Error).message}${typeof code === 'string' && code.startsWith('TW_') ? ` (${code})` : ''}\n`);
    process.exitCode = 2;
  }
}

const entry = process.argv[1];
if (entry !== undefined && /[\\/]cli[\\/]main\.[jt]s$/.test(entry)) await main(process.argv);
