/**
 * `taskwire prune`: deletes finished runs older than a duration (retention),
 * in batches, from the SQLite file or a PostgreSQL store.
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { RUN_STATUSES, type RunStatus } from '../../engine/state.js';
import { ConfigError } from '../../errors.js';
import { openStore } from '../../runtime/open-store.js';
import { FINAL_STATUSES, type Store } from '../../store/port.js';
import { pruneCriteria } from '../../store/prune.js';
import { parseDuration } from '../duration.js';
import { connectionOptions, jsonOption, parseInteger, schemaOption, storeOption } from '../options.js';
import { out, printJson } from '../print.js';

/** Flags of `prune`. */
interface PruneFlags {
  store?: string;
  schema?: string;
  olderThan: number;
  status?: RunStatus[];
  batch: number;
  dryRun?: boolean;
  json?: boolean;
}

/** Registers the `prune` command. */
export function pruneCommand(program: Command): void {
  program
    .command('prune')
    .description('delete finished runs (with their nodes, activations, history and outbox) that finished longer ago than --older-than')
    .addOption(storeOption())
    .addOption(schemaOption())
    .addOption(new Option('--older-than <duration>', 'runs whose last change is older than this: 30d, 12h, 90m, 45s').argParser((text) => parseDuration(text, '--older-than')).makeOptionMandatory())
    .addOption(
      new Option('--status <list>', `only these final statuses, comma-separated (default: ${FINAL_STATUSES.join(',')})`).argParser(parseStatuses),
    )
    .addOption(new Option('--batch <n>', 'runs deleted per transaction').default(500).argParser((text) => parseInteger(text, '--batch', 1, 100_000)))
    .option('--dry-run', 'count the runs that would be deleted, delete nothing')
    .addOption(jsonOption())
    .action(async (flags: PruneFlags) => {
      const before = Date.now() - flags.olderThan;
      // Checked before opening the store: a status that is not final is refused even where no run matches.
      const criteria = pruneCriteria({ finishedBefore: before, ...(flags.status === undefined ? {} : { status: flags.status }), limit: flags.batch });
      const options = connectionOptions(flags);
      const store = await openStore(options.store, { distributed: false, ...(options.schema === undefined ? {} : { schema: options.schema }) });
      let count: number;
      try {
        count = flags.dryRun === true ? await countPrunable(store, criteria.status, before) : await pruneAll(store, criteria.status, before, criteria.limit);
      } finally {
        await store.close();
      }
      const iso = new Date(before).toISOString();
      if (flags.json === true) return printJson({ pruned: flags.dryRun === true ? 0 : count, matched: count, finishedBefore: iso, status: criteria.status, dryRun: flags.dryRun === true });
      const runs = `${count} run${count === 1 ? '' : 's'}`;
      out(flags.dryRun === true ? `would prune ${runs} (finished before ${iso}; dry run: nothing deleted)` : `pruned ${runs} (finished before ${iso})`);
    });
}

/** Deletes batch after batch until a batch comes back short; returns the total. */
async function pruneAll(store: Store, status: RunStatus[], finishedBefore: number, limit: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await store.pruneRuns({ finishedBefore, status, limit });
    total += deleted;
    if (deleted < limit) return total;
  }
}

/** How many runs {@link pruneAll} would delete now (by listing them: a dry run reads every finished run's summary). */
async function countPrunable(store: Store, status: RunStatus[], finishedBefore: number): Promise<number> {
  const runs = await store.listRuns({ status, limit: Number.MAX_SAFE_INTEGER });
  return runs.filter((run) => run.updatedAt < finishedBefore).length;
}

/** `succeeded,cancelled` → statuses; an unknown name is refused here, a live one by `pruneCriteria`. */
function parseStatuses(text: string): RunStatus[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(RUN_STATUSES as readonly string[]).includes(name)) throw new ConfigError(`--status: unknown run status "${name}" (final ones: ${FINAL_STATUSES.join(', ')})`);
  }
  return names as RunStatus[];
}
