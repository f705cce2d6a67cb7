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
import { out, printJson, printProgress, printRunEnd, SUMMARY_ABOVE } from '../print.js';

interface RunFlags extends ConnectionFlags {
  input?: string[];
  inputs?: string;
  validate: boolean;
  json?: boolean;
  results?: boolean;
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
        const final = await run.wait();
        view?.close();
        if (flags.json === true) printJson(final);
        else printRunEnd(final, flags.results === true);
        process.exitCode = final.status === 'succeeded' ? 0 : 1;
      } finally {
        view?.close();
        await client.close();
      }
    });
}
