/**
 * Steering a run from the terminal: `retry`, `skip`, `cancel`, `stop`, and
 * `notify` (an external event to every run listening to it).
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { noticeUnexecuted } from '../embedded-hosts.js';
import { out, brief, printJson } from '../print.js';
import { applyChange, clientOptions, parseCount, parseJson, parseJsonObject, withClient, type ClientFlags } from '../session.js';

interface RetryFlags extends ClientFlags {
  activation?: string;
}

interface SkipFlags extends ClientFlags {
  value?: string;
}

/** Registers `retry`, `skip`, `cancel`, `stop` and `notify`. */
export function controlCommands(program: Command): void {
  clientOptions(
    program
      .command('retry')
      .description('run a failed (or cancelled) node again, a failed activation of a persistent listener, or a failed child of a map node (node[i])')
      .argument('<runId>', 'the run')
      .argument('<node>', 'the node')
      .option('-a, --activation <n>', 'the activation (notification number) to retry'),
  ).action(async (runId: string, node: string, flags: RetryFlags) => {
    const activation = flags.activation === undefined ? undefined : parseCount(flags.activation, '--activation', 0);
    await applyChange(flags, runId, `retrying ${node}${activation === undefined ? '' : ` #${activation}`}`, (run) =>
      run.retry(node, activation === undefined ? {} : { activation }),
    );
  });

  clientOptions(
    program
      .command('skip')
      .description('mark a node that has not run (or has failed) done without running it; its listeners get --value')
      .argument('<runId>', 'the run')
      .argument('<node>', 'the node')
      .option('-v, --value <json>', 'what the node provides to its listeners (JSON; default null)'),
  ).action(async (runId: string, node: string, flags: SkipFlags) => {
    const value = flags.value === undefined ? undefined : parseJson(flags.value, '--value');
    await applyChange(flags, runId, `skipped ${node}${value === undefined ? '' : ` = ${brief(value)}`}`, (run) => run.skip(node, value));
  });

  clientOptions(program.command('cancel').description('cancel a run: running tasks see their AbortSignal fire, unfinished nodes are cancelled').argument('<runId>', 'the run')).action(
    async (runId: string, flags: ClientFlags) => {
      await applyChange(flags, runId, (id) => `cancelled run ${id}`, (run) => run.cancel());
    },
  );

  clientOptions(program.command('stop').description('stop persistent listeners and events: no new activations, running ones finish').argument('<runId>', 'the run')).action(
    async (runId: string, flags: ClientFlags) => {
      await applyChange(flags, runId, (id) => `stopped run ${id}`, (run) => run.stop());
    },
  );

  clientOptions(
    program
      .command('notify')
      .description('notify an external event: every live run listening to it gets the payload; prints the ids of the runs notified')
      .argument('<event>', 'the event name')
      .argument('[payload]', 'a JSON object whose fields feed the listeners by name', '{}'),
  ).action(async (event: string, payload: string, flags: ClientFlags) => {
    const fields = parseJsonObject(payload, 'the payload');
    await withClient(flags, async (client, store) => {
      const runIds = await client.notify(event, fields);
      if (flags.json === true) printJson(runIds);
      else for (const id of runIds) out(id);
      await noticeUnexecuted(store, runIds);
    });
  });
}
