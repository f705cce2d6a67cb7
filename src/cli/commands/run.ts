/**
 * `taskwire run <file>`: runs a flow file and reports each node's outcome.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { HistoryEntry } from '../../engine/events.js';
import { connect } from '../../runtime/connect.js';
import { openStore } from '../../runtime/open-store.js';
import { tasksOfFlow } from '../../runtime/resume.js';
import { servingName, servingProcess, startOnFile, storeFile } from '../embedded-hosts.js';
import type { Client } from '../../client/client.js';
import type { WorkerBeat } from '../../store/port.js';
import { HistoryFollower } from '../follow-history.js';
import { loadFlow } from '../load-flow.js';
import { brokerOption, collect, connectionOptions, jsonOption, parseInputs, prefixOption, schemaOption, storeOption, type ConnectionFlags } from '../options.js';
import { LiveView } from '../live-view.js';
import type { RunHandle } from '../../client/run-handle.js';
import { Interrupt, type InterruptCause } from '../interrupt.js';
import { mapNodes, note, out, printJson, printProgress, printRunEnd, SUMMARY_ABOVE } from '../print.js';
import { parseDuration } from '../duration.js';
import { ConfigError } from '../../errors.js';

interface RunFlags extends ConnectionFlags {
  input?: string[];
  inputs?: string;
  validate: boolean;
  json?: boolean;
  results?: boolean;
  cancelOnExit?: boolean;
  concurrency: string;
  at?: string;
  delay?: string;
}

/** The start time `--at` or `--delay` asks for (the client refuses both). */
function startTimeOf(flags: RunFlags): { at?: number; delayMs?: number } {
  const at = flags.at === undefined ? undefined : Date.parse(flags.at);
  if (at !== undefined && Number.isNaN(at)) throw new ConfigError(`--at expected an ISO 8601 time such as 2026-12-02T02:00:00Z, got ${JSON.stringify(flags.at)}`);
  return { ...(at === undefined ? {} : { at }), ...(flags.delay === undefined ? {} : { delayMs: parseDuration(flags.delay, '--delay') }) };
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
    .option('--at <iso>', 'start the run at this time (ISO 8601, e.g. 2026-12-02T02:00:00Z): stored scheduled until then')
    .option('--delay <duration>', 'start the run after this long (45s, 90m, 12h, 2d)')
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
      // Embedded on a file a `taskwire serve` executes: the run is handed to it (two coordinators on one file would both carry it out).
      const store = distributed ? undefined : await openStore(flags.store, { distributed: false });
      const start = async (serving: WorkerBeat | undefined): Promise<{ client: Client; serving: WorkerBeat | undefined }> => {
        const client = await connect({
          ...connectionOptions(flags),
          ...(store === undefined ? {} : { store }),
          tasks: loaded.tasks,
          concurrency: Number(flags.concurrency),
          // A CLI run executes its own flow: it does not resume other runs of the file.
          resume: false,
          ...(distributed || serving !== undefined ? { coordinator: false, worker: false } : {}),
        });
        return { client, serving };
      };
      const { client, serving } =
        store === undefined ? await start(undefined) : await startOnFile(store, (opened) => servingProcess(opened, tasksOfFlow(loaded.flow.definition())), start);
      const elsewhere = distributed ? 'the workers' : serving === undefined ? undefined : servingName(serving);
      if (store !== undefined && serving !== undefined) note(`taskwire: ${storeFile(store) as string} is served by ${servingName(serving)}: the run is handed to it (it executes its own copy of the tasks)`);
      // On a terminal, one status line rewritten in place; otherwise one plain line per event.
      const view = flags.json !== true && process.stdout.isTTY ? new LiveView(loaded.flow.definition().nodes) : undefined;
      const interrupt = new Interrupt();
      let follower: HistoryFollower | undefined;
      try {
        // Only this run's events (distributed, the bus carries every run's).
        const id = randomUUID();
        if (flags.json !== true) {
          // The id first: other terminals can inspect or rewire the run while it runs.
          out(`starting run ${id} (flow ${loaded.flow.name})`);
          const maps = mapNodes(loaded.flow.definition().nodes);
          const progress = (entry: HistoryEntry): void => (view === undefined ? printProgress(entry, maps) : view.update(entry));
          // Handed to a serve, the run's events are not announced here: its history is read from the store.
          if (store !== undefined && serving !== undefined) follower = new HistoryFollower(store, id, progress);
          else await client.watch(progress, id);
        }
        const run = await client.start(loaded.flow, inputs, { validate: flags.validate, id, ...startTimeOf(flags) });
        view?.render();
        const final = await Promise.race([run.wait(), interrupt.signalled]);
        await follower?.stop();
        view?.close();
        if (typeof final === 'string') {
          await leaveRun(run, final, { elsewhere, cancel: flags.cancelOnExit === true, close: () => client.close(), file, store: flags.store });
          process.exitCode = 130;
          return;
        }
        if (flags.json === true) printJson(final);
        else printRunEnd(final, flags.results === true);
        process.exitCode = final.status === 'succeeded' ? 0 : 1;
      } finally {
        await follower?.stop();
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
 * what became of the run and what to do next. `elsewhere`: who executes the run
 * when not this process (the workers, the file's `taskwire serve`).
 */
async function leaveRun(
  run: RunHandle,
  cause: InterruptCause,
  how: { elsewhere: string | undefined; cancel: boolean; close: () => Promise<void>; file: string; store: string | undefined },
): Promise<void> {
  note(`taskwire: interrupted (${cause}): ${how.cancel ? 'cancelling the run' : how.elsewhere !== undefined ? `leaving the run to ${how.elsewhere}` : 'finishing the tasks running now (up to 10 s)'}; Ctrl-C again exits at once`);
  if (how.cancel) await run.cancel();
  await how.close();
  if (how.cancel) return note(`run ${run.id} cancelled`);
  const store = how.store === undefined ? '' : ` --store ${how.store}`;
  if (how.elsewhere !== undefined) return note(`run ${run.id} goes on under ${how.elsewhere}: \`taskwire show ${run.id}${store}\` follows it, \`taskwire cancel ${run.id}${store}\` stops it`);
  note(
    `run ${run.id} is left unfinished in the store; nothing executes it now. ` +
      `Resume it with \`taskwire serve --tasks ${how.file}${store}\` (or any program that connects to the store with its tasks), ` +
      `or cancel it with \`taskwire cancel ${run.id}${store}\`; \`--cancel-on-exit\` cancels on Ctrl-C.`,
  );
}
