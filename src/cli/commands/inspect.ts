/**
 * Reading runs: `taskwire runs`, `taskwire show <runId>`, `taskwire history <runId>`.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import type { JsonObject } from '../../codec/json.js';
import type { HistoryEntry } from '../../engine/events.js';
import { RUN_STATUSES, type RunStatus } from '../../engine/state.js';
import { ConfigError } from '../../errors.js';
import { collect } from '../options.js';
import { brief, entrySubject, out, printJson, printRun, skipText, table, time } from '../print.js';
import { clientOptions, mapText, parseCount, withClient, withRun, type ClientFlags } from '../session.js';


interface RunsFlags extends ClientFlags {
  status?: string[];
  flow?: string;
  error?: string;
  limit: string;
}

interface HistoryFlags extends ClientFlags {
  after?: string;
  limit: string;
}

/** Registers `runs`, `show` and `history`. */
export function inspectCommands(program: Command): void {
  clientOptions(
    program
      .command('runs')
      .description('list runs, newest first')
      .option('-s, --status <status>', `only runs in this status (repeatable): ${RUN_STATUSES.join(', ')}`, collect)
      .option('-f, --flow <name>', 'only runs of this flow')
      .option('-e, --error <text>', "only runs whose first failure message contains this text (ASCII letters in any case)")
      .option('-n, --limit <n>', 'at most this many runs', '100'),
  ).action(async (flags: RunsFlags) => {
    const unknown = (flags.status ?? []).filter((s) => !RUN_STATUSES.includes(s as RunStatus));
    if (unknown.length > 0) throw new ConfigError(`--status expected one of ${RUN_STATUSES.join(', ')}, got ${unknown.join(', ')}`);
    const filter = {
      limit: parseCount(flags.limit, '--limit'),
      ...(flags.status === undefined ? {} : { status: flags.status as RunStatus[] }),
      ...(flags.flow === undefined ? {} : { flow: flags.flow }),
      ...(flags.error === undefined ? {} : { errorText: flags.error }),
    };
    const runs = await withClient(flags, (client) => client.runs(filter));
    if (flags.json === true) return printJson(runs);
    if (runs.length === 0) return out('no runs');
    const rows = runs.map((r) => [r.id, r.flow, r.status, `v${r.graphVersion}`, time(r.createdAt), time(r.updatedAt)]);
    for (const line of table([['RUN', 'FLOW', 'STATUS', 'GRAPH', 'CREATED', 'UPDATED'], ...rows])) out(line);
  });

  clientOptions(
    program
      .command('show')
      .description('show a run: every node with its state, attempts, duration, error or result, what waiting nodes wait for, the cycle if it stalled')
      .argument('<runId>', 'the run'),
  ).action(async (runId: string, flags: ClientFlags) => {
    printRun(await withRun(flags, runId, (run) => run.status()), flags.json === true);
  });

  clientOptions(
    program
      .command('history')
      .description("a run's history: what happened and who changed what, with graph versions")
      .argument('<runId>', 'the run')
      .option('--after <seq>', 'only entries after this sequence number')
      .option('-n, --limit <n>', 'at most this many entries', '1000'),
  ).action(async (runId: string, flags: HistoryFlags) => {
    const page = { limit: parseCount(flags.limit, '--limit'), ...(flags.after === undefined ? {} : { after: parseCount(flags.after, '--after', 0) }) };
    const { entries, maps } = await withRun(flags, runId, async (run) => {
      const status = await run.status(); // an unknown run is an error, not an empty history
      // Map nodes' children read `node[i]`.
      const maps = new Set(Object.values(status.nodes).filter((node) => node.map !== undefined).map((node) => node.id));
      return { entries: await run.history(page), maps };
    });
    if (flags.json === true) return printJson(entries);
    const rows = entries.map((e) => [
      String(e.seq),
      time(e.at),
      e.type,
      entrySubject(e, maps),
      e.attempt === undefined ? '' : String(e.attempt),
      e.actor ?? '',
      `v${e.graphVersion}`,
      historyDetail(e),
    ]);
    for (const line of table([['SEQ', 'TIME', 'TYPE', 'NODE', 'ATTEMPT', 'ACTOR', 'GRAPH', 'DETAIL'], ...rows])) out(line);
  });
}

/** The detail column of a history entry: the change, the error, the new status. */
export function historyDetail(entry: HistoryEntry): string {
  const detail = entry.detail;
  if (entry.type === 'change' && detail !== undefined) return describeChange(detail);
  if (entry.status !== undefined) return entry.status;
  if (detail === undefined) return '';
  if (entry.type === 'node.skipped') return skipText(detail) || brief(detail, 80);
  const message = detail['message'];
  if (typeof message === 'string') return `${typeof detail['code'] === 'string' ? `${detail['code']}: ` : ''}${message}`;
  return brief(detail, 80);
}

const str = (value: unknown): string => (typeof value === 'string' ? value : brief(value));
const renames = (value: unknown): string => mapText(typeof value === 'object' && value !== null ? (value as Record<string, string>) : undefined);

/** A link condition of a change, in words: `accepted on verdict, depth node`, or `none`. */
function conditionText(value: unknown): string {
  if (typeof value !== 'object' || value === null) return 'none';
  const c = value as { name?: unknown; on?: unknown; depth?: unknown };
  return `${str(c.name)}${c.on === undefined ? '' : ` on ${str(c.on)}`}, depth ${str(c.depth)}`;
}

/** A change recorded in the history, as a command-like line. */
export function describeChange(detail: JsonObject): string {
  const d = detail;
  switch (d['op']) {
    case 'add':
      return `add ${str(d['node'])} (task ${str(d['task'])})`;
    case 'link':
    case 'unlink':
      return `${str(d['op'])} ${str(d['from'])} -> ${str(d['to'])}${renames(d['map'])}`;
    case 'relink':
      return `relink ${str(d['node'])}: ${str(d['from'])} -> ${str(d['to'])}${renames(d['map'])}`;
    case 'replace':
      return `replace ${str(d['node'])} ${brief(d['with'])}`;
    case 'retry':
      return `retry ${str(d['node'])}${d['activation'] === undefined ? '' : ` #${str(d['activation'])}`}`;
    case 'skip':
      return `skip ${str(d['node'])}${d['result'] === undefined || d['result'] === null ? '' : ` = ${brief(d['result'])}`}`;
    case 'condition':
      return `condition ${str(d['from'])} -> ${str(d['to'])}: ${conditionText(d['condition'])}${d['before'] === undefined ? '' : ` (was ${conditionText(d['before'])})`}`;
    default:
      return str(d['op']);
  }
}
