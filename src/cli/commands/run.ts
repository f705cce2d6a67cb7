/**
 * `taskwire run <file>`: runs a flow file and reports each node's outcome.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { connect } from '../../runtime/connect.js';
import { loadFlow } from '../load-flow.js';
import { brokerOption, collect, connectionOptions, jsonOption, parseInputs, prefixOption, schemaOption, storeOption, type ConnectionFlags } from '../options.js';
import { LiveView } from '../live-view.js';
import type { RunHandle } from '../../client/run-handle.js';
import { Interrupt, type InterruptCause } from '../interrupt.js';
import { note, out, printJson, printProgress, printRunEnd, SUMMARY_ABOVE } from '../print.js';

interface RunFlags extends ConnectionFlags {
  input?: string[];
  inputs?: string;
  validate: boolean;
  json?: boolean;
  results?: boolean;
  cancelOnExit?: boolean;
  concurrency: string;
}

/** Registers the `run` command. */
export function runCommand(program: Command): void {
  program
    .command('run')
    .description('run a flow file (default export: a Flow) and print each node and the results; exit code 0 only if the run succeeded')
    .argument('<file>', 'a .ts or .js module exporting a flow')
    .option('-i, --input <key=value>', 'a flow input (repeatable; JSON values are parsed)', collect)
    .option('--inputs <json>', 'flow inputs as a JSON object')
    .option('--no-validate', 'start without validating the flow')
    .option('-c, --concurrency <n>', 'tasks at once (embedded)', '16')
    .option('--results', `print every node and result at the end (a flow of more than ${SUMMARY_ABOVE} nodes gets a summary)`)
    .option('--cancel-on-exit', 'on Ctrl-C (SIGINT, SIGTERM, a closed output) cancel the run instead of leaving it to be resumed')
    .addOption(storeOption())
    .addOption(brokerOption())
    .addOption(prefixOption())
    .addOption(schemaOption())
    .addOption(jsonOption())
    .action(async (file: string, flags: RunFlags) => {
      const loaded = await loadFlow(file);
      const inputs = { ...loaded.inputs, ...parseInputs(flags.input, flags.inputs) };
      const distributed = flags.broker !== undefined && flags.broker !== '';
      const client = await connect({
        ...connectionOptions(flags),
        tasks: loaded.tasks,
        concurrency: Number(flags.concurrency),
        // A CLI run executes its own flow: it does not resume other runs of the file.
        resume: false,
        ...(distributed ? { coordinator: false, worker: false } : {}),
      });
      // On a terminal, one status line rewritten in place; otherwise one plain line per event.
      const view = flags.json !== true && process.stdout.isTTY ? new LiveView(loaded.flow.definition().nodes) : undefined;
      const interrupt = new Interrupt();
      try {
        // Only this run's events (distributed, the bus carries every run's).
        const id = randomUUID();
        if (flags.json !== true) {
          // The id first: other terminals can inspect or rewire the run while it runs.
          out(`starting run ${id} (flow ${loaded.flow.name})`);
          await client.watch((entry) => (view === undefined ? printProgress(entry) : view.update(entry)), id);
        }
        const run = await client.start(loaded.flow, inputs, { validate: flags.validate, id });
        view?.render();
        const final = await Promise.race([run.wait(), interrupt.signalled]);
        view?.close();
        if (typeof final === 'string') {
          await leaveRun(run, final, { distributed, cancel: flags.cancelOnExit === true, close: () => client.close(), file, store: flags.store });
          process.exitCode = 130;
          return;
        }
        if (flags.json === true) printJson(final);
        else printRunEnd(final, flags.results === true);
        process.exitCode = final.status === 'succeeded' ? 0 : 1;
      } finally {
        view?.close();
        interrupt.dispose();
        await client.close();
      }
    });
}

/**
 * After an interruption: cancels the run (`--cancel-on-exit`) or leaves it, closes
 * the client (embedded: no new task is taken, the tasks running now finish within
 * the shutdown grace and their results are recorded), and says on standard error
 * what became of the run and what to do next.
 */
async function leaveRun(run: RunHandle, cause: InterruptCause, how: { distributed: boolean; cancel: boolean; close: () => Promise<void>; file: string; store: string | undefined }): Promise<void> {
  note(`taskwire: interrupted (${cause}): ${how.cancel ? 'cancelling the run' : how.distributed ? 'leaving the run to the workers' : 'finishing the tasks running now (up to 10 s)'}; Ctrl-C again exits at once`);
  if (how.cancel) await run.cancel();
  await how.close();
  if (how.cancel) return note(`run ${run.id} cancelled`);
  if (how.distributed) return note(`run ${run.id} goes on on the workers: \`taskwire show ${run.id}\` follows it, \`taskwire cancel ${run.id}\` stops it`);
  const store = how.store === undefined ? '' : ` --store ${how.store}`;
  note(
    `run ${run.id} is left unfinished in the store; nothing executes it now. ` +
      `Resume it with \`taskwire serve --tasks ${how.file}${store}\` (or any program that connects to the store with its tasks), ` +
      `or cancel it with \`taskwire cancel ${run.id}${store}\`; \`--cancel-on-exit\` cancels on Ctrl-C.`,
  );
}
