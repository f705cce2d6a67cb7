/**
 * `taskwire activations <runId> <node>`: a persistent listener's activations,
 * one per notification, with their state, timing, inputs and outcome.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { UnknownNodeError } from '../../errors.js';
import { isQueued } from '../../engine/state.js';
import { brief, note, out, outcomeText, printJson, table, time, timings } from '../print.js';
import { clientOptions, parseCount, withRun, type ClientFlags } from '../session.js';

interface ActivationsFlags extends ClientFlags {
  after?: string;
  limit: string;
}

/** Registers `activations`. */
export function activationsCommand(program: Command): void {
  clientOptions(
    program
      .command('activations')
      .description("a persistent listener's activations, or a map node's children: seq (element index), state, attempts, times, inputs, result or error")
      .argument('<runId>', 'the run')
      .argument('<node>', 'the persistent listener or map node')
      .option('--after <seq>', 'only activations after this notification number (element index)')
      .option('-n, --limit <n>', 'at most this many activations', '1000'),
  ).action(async (runId: string, node: string, flags: ActivationsFlags) => {
    const page = { limit: parseCount(flags.limit, '--limit'), ...(flags.after === undefined ? {} : { after: parseCount(flags.after, '--after', 0) }) };
    const { list, view } = await withRun(flags, runId, async (run) => {
      const found = (await run.status()).nodes[node]; // an unknown run is an error, not an empty list
      const activations = await run.activations(node, page);
      // A removed listener's activations stay in the store: they are still listed.
      if (found === undefined && activations.length === 0) throw new UnknownNodeError(node, `run "${run.id}"`);
      return { list: activations, view: found };
    });
    if (flags.json === true) return printJson(list);
    if (list.length === 0) {
      out('no activations');
      if (view !== undefined && view.activations === undefined && view.map === undefined) note(`node "${node}" is not a persistent listener: \`taskwire show\` gives its attempts`);
      return;
    }
    const now = Date.now();
    const at = (t: number | undefined): string => (t === undefined ? '' : time(t));
    const rows = list.map((a) => {
      const status = isQueued(a) ? 'queued' : a.status;
      return [String(a.seq), status, String(a.attempt), a.from, at(a.queuedAt), at(a.finishedAt), timings({ ...a, status }, now), brief(a.inputs, 40), outcomeText(a)];
    });
    for (const line of table([['SEQ', 'STATUS', 'ATTEMPT', 'FROM', 'QUEUED', 'FINISHED', 'TIMES', 'INPUTS', 'OUTCOME'], ...rows])) out(line);
  });
}

