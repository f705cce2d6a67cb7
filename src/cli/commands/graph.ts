/**
 * `taskwire graph <file|runId>`: a flow's or a run's graph as Mermaid, DOT or JSON.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { inspectRun } from '../../engine/inspect.js';
import { UnknownRunError } from '../../errors.js';
import { flowGraph, GRAPH_FORMATS, renderGraph, runGraph, type Graph, type GraphFormat } from '../graph-format.js';
import { loadFlow } from '../load-flow.js';
import { out, printJson } from '../print.js';
import { clientOptions, withRun, type ClientFlags } from '../session.js';

interface GraphFlags extends ClientFlags {
  format: GraphFormat;
}

/** Whether `graph`'s argument names a flow file rather than a run. */
export function isFlowFile(target: string): boolean {
  return existsSync(target) || /\.[cm]?[jt]sx?$/.test(target);
}

/** Registers `graph`. */
export function graphCommand(program: Command): void {
  clientOptions(
    program
      .command('graph')
      .description("draw a flow file's nodes and links, or a run's with each node coloured by its state")
      .argument('<target>', 'a flow file (.ts or .js), or a run id')
      .addOption(new Option('--format <format>', 'output format').choices(GRAPH_FORMATS).default('mermaid')),
  ).action(async (target: string, flags: GraphFlags) => {
    let graph: Graph;
    if (isFlowFile(target)) {
      graph = flowGraph((await loadFlow(target)).flow.definition());
    } else {
      graph = await withRun(flags, target, async (run, store) => {
        const snapshot = await run.status();
        // The snapshot has no links: they come from the run's state.
        const state = await store.loadRun(run.id);
        if (state === undefined) throw new UnknownRunError(run.id);
        return runGraph(snapshot, inspectRun(state).links);
      });
    }
    if (flags.json === true) printJson(graph);
    else out(renderGraph(graph, flags.format));
  });
}
