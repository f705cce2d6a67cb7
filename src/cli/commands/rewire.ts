/**
 * Rewiring a live run from the terminal: `link`, `unlink`, `relink`, `add`,
 * `remove`, `replace`, and `change`, which applies a JSON list of changes as
 * one. Each change is validated by the engine: an invalid one changes nothing
 * and exits with code 2 and the error's code.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { JsonObject } from '../../codec/json.js';
import { encodeValue } from '../../codec/value.js';
import { ConfigError } from '../../errors.js';
import { collect } from '../options.js';
import { describeChangeList, parseChangeList } from '../change-list.js';
import { brief } from '../print.js';
import { applyChange, clientOptions, mapText, parseJson, parseJsonObject, parseMap, type ClientFlags } from '../session.js';

interface MapFlags extends ClientFlags {
  map?: string[];
}

interface AddFlags extends ClientFlags {
  task: string;
  bound?: string;
  source?: string[];
  listener?: string[];
  persistent?: boolean;
}

interface ChangeFlags extends ClientFlags {
  file?: string;
}

interface ReplaceFlags extends ClientFlags {
  task?: string;
  bound?: string;
}

const MAP_HELP = 'rename: the listener input <in> takes the source\'s provided name <provided> (repeatable)';

/** The text of `--file` (`-`: standard input). */
function readList(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read --file ${path}: ${(error as Error).message}`);
  }
}

/** Registers the rewiring commands. */
export function rewireCommands(program: Command): void {
  clientOptions(
    program
      .command('link')
      .description('<to> starts listening to <from> (a finished <from> notifies at once)')
      .argument('<runId>', 'the run')
      .argument('<from>', 'the source node')
      .argument('<to>', 'the listening node')
      .option('-m, --map <in=provided>', MAP_HELP, collect),
  ).action(async (runId: string, from: string, to: string, flags: MapFlags) => {
    const map = parseMap(flags.map);
    await applyChange(flags, runId, `linked ${from} -> ${to}${mapText(map)}`, (run) => run.link(from, to, map === undefined ? {} : { map }));
  });

  clientOptions(
    program.command('unlink').description('<to> stops listening to <from>').argument('<runId>', 'the run').argument('<from>', 'the source node').argument('<to>', 'the listening node'),
  ).action(async (runId: string, from: string, to: string, flags: ClientFlags) => {
    await applyChange(flags, runId, `unlinked ${from} -> ${to}`, (run) => run.unlink(from, to));
  });

  clientOptions(
    program
      .command('relink')
      .description('<node> listens to <to> instead of <from>, in one step (the link\'s renames are kept unless --map is given)')
      .argument('<runId>', 'the run')
      .argument('<node>', 'the listening node')
      .argument('<from>', 'the source it listens to now')
      .argument('<to>', 'the source it will listen to')
      .option('-m, --map <in=provided>', MAP_HELP, collect),
  ).action(async (runId: string, node: string, from: string, to: string, flags: MapFlags) => {
    const map = parseMap(flags.map);
    await applyChange(flags, runId, `relinked ${node}: ${from} -> ${to}${mapText(map)}`, (run) => run.relink(node, from, to, map === undefined ? {} : { map }));
  });

  clientOptions(
    program
      .command('add')
      .description('add a node of a known task (registered by a worker: see `taskwire tasks`) to a run')
      .argument('<runId>', 'the run')
      .argument('<nodeId>', 'id of the new node')
      .requiredOption('-t, --task <name>', 'the task the node runs')
      .option('-b, --bound <json>', 'bound inputs, a JSON object')
      .option('--source <id>', 'a node the new node listens to (repeatable)', collect)
      .option('--listener <id>', 'a node that will listen to the new node (repeatable)', collect)
      .option('--persistent', 'a persistent listener: runs on every notification'),
  ).action(async (runId: string, nodeId: string, flags: AddFlags) => {
    const bound = flags.bound === undefined ? undefined : parseJsonObject(flags.bound, '--bound');
    const sources = flags.source ?? [];
    const listeners = flags.listener ?? [];
    const wiring = [sources.length === 0 ? '' : `, listening to ${sources.join(', ')}`, listeners.length === 0 ? '' : `, listened to by ${listeners.join(', ')}`].join('');
    await applyChange(flags, runId, `added ${nodeId} (task ${flags.task})${wiring}`, (run) =>
      run.add({ task: flags.task, id: nodeId, persistent: flags.persistent === true, ...(bound === undefined ? {} : { bound }) }, { sources, listeners }),
    );
  });

  clientOptions(program.command('remove').description('remove a node from a run (a running one is aborted)').argument('<runId>', 'the run').argument('<node>', 'the node')).action(
    async (runId: string, node: string, flags: ClientFlags) => {
      await applyChange(flags, runId, `removed ${node}`, (run) => run.remove(node));
    },
  );

  clientOptions(
    program
      .command('replace')
      .description('give a node that has not run (or has failed) another task or other bound inputs')
      .argument('<runId>', 'the run')
      .argument('<node>', 'the node')
      .option('-t, --task <name>', 'the new task (its definition replaces the node\'s; bound inputs are --bound or none)')
      .option('-b, --bound <json>', 'new bound inputs, a JSON object'),
  ).action(async (runId: string, node: string, flags: ReplaceFlags) => {
    if (flags.task === undefined && flags.bound === undefined) throw new ConfigError('replace needs --task or --bound (or both)');
    const bound = flags.bound === undefined ? undefined : parseJsonObject(flags.bound, '--bound');
    const what = [flags.task === undefined ? '' : ` with task ${flags.task}`, bound === undefined ? '' : ` bound ${brief(bound)}`].join('');
    await applyChange(flags, runId, `replaced ${node}${what}`, (run) =>
      flags.task !== undefined
        ? run.replace(node, { task: flags.task, ...(bound === undefined ? {} : { bound }) })
        : run.replace(node, { bound: encodeValue(bound, `the bound inputs of node "${node}"`) as JsonObject }),
    );
  });

  clientOptions(
    program
      .command('change')
      .description('apply a JSON list of changes as one: validated as a whole, one step, one graph version, or refused whole')
      .argument('<runId>', 'the run')
      .argument('[changes]', 'the JSON list, e.g. \'[{"op":"add","node":{"task":"kickServer","id":"kickServer2"}},{"op":"relink","node":"install","from":"kickServer","to":"kickServer2"}]\'')
      .option('-f, --file <path>', 'read the JSON list from a file (- for standard input)'),
  ).action(async (runId: string, text: string | undefined, flags: ChangeFlags) => {
    if ((text === undefined) === (flags.file === undefined)) throw new ConfigError('change needs the JSON list of changes, as an argument or with --file (one of the two)');
    const source = flags.file === undefined ? (text as string) : readList(flags.file);
    const changes = parseChangeList(parseJson(source, flags.file === undefined ? 'the list of changes' : `--file ${flags.file}`));
    await applyChange(flags, runId, `changed ${describeChangeList(changes)}`, (run) => run.change(changes));
  });
}
