/**
 * The `taskwire` command line.
 *
 * @packageDocumentation
 */
import { Command } from 'commander';
import { coordinatorCommand } from './commands/coordinator.js';
import { migrateCommand } from './commands/migrate.js';
import { runCommand } from './commands/run.js';
import { workerCommand } from './commands/worker.js';

/** Builds the program (exported for tests). */
export function program(): Command {
  const cli = new Command('taskwire')
    .description('taskwire: event-driven task workflows you can rewire while they run')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });
  runCommand(cli);
  workerCommand(cli);
  coordinatorCommand(cli);
  migrateCommand(cli);
  return cli;
}

/** Runs the CLI; errors print as one line with their code and set exit code 2. */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`taskwire: ${(error as Error).message}${typeof code === 'string' && code.startsWith('TW_') ? ` (${code})` : ''}\n`);
    process.exitCode = 2;
  }
}

const entry = process.argv[1];
if (entry !== undefined && /[\\/]cli[\\/]main\.[jt]s$/.test(entry)) await main(process.argv);
