/**
 * `taskwire migrate`: applies the PostgreSQL migrations (also applied at
 * start) and says which, or lists them (`--dry-run`); sets the schema's shard
 * count (`--shards`).
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../../errors.js';
import type { Migration } from '../../store/postgres/migrations.js';
import { DEFAULT_SHARDS, MAX_SHARDS } from '../../store/postgres/shard-count.js';
import { parseInteger, schemaOption, storeOption } from '../options.js';
import { out } from '../print.js';

/** Registers the `migrate` command. */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply the PostgreSQL schema migrations (and say which); --dry-run lists them without applying')
    .addOption(storeOption().makeOptionMandatory())
    .addOption(schemaOption())
    .addOption(
      new Option(
        '--shards <n>',
        `shard count of the schema, 1 to ${MAX_SHARDS} (a new schema: 16); refused once the schema holds runs with another count`,
      ).argParser((text) => parseInteger(text, '--shards', 1, MAX_SHARDS)),
    )
    .option('--dry-run', 'list the migrations the schema lacks (and a shard count change), change nothing')
    .action(async (flags: { store: string; schema: string; shards?: number; dryRun?: boolean }) => {
      if (!/^postgres(ql)?:\/\//.test(flags.store)) throw new ConfigError('migrate needs a postgres:// store URL (--store or TASKWIRE_STORE_URL)');
      const { migrateSchema, pendingMigrations, MIGRATIONS, SCHEMA_VERSION } = await import('../../store/postgres/migrations.js');
      const { withPostgresPool } = await import('../../store/postgres/postgres-store.js');
      const schema = `schema "${flags.schema}"`;
      const shardCount = (n: number): string => `${n} shard${n === 1 ? '' : 's'}`;
      if (flags.dryRun === true) {
        const plan = await withPostgresPool(flags.store, (pool) => pendingMigrations(pool, flags.schema));
        const lines = [plan.pending.length === 0 ? `${schema} is up to date (version ${SCHEMA_VERSION}): no migration to apply` : `${schema}${plan.exists ? '' : ' (does not exist yet)'} lacks ${plan.pending.length} migration${plan.pending.length === 1 ? '' : 's'}: ${names(plan.pending)}`];
        const now = plan.shards ?? (flags.shards === undefined ? DEFAULT_SHARDS : undefined);
        if (flags.shards !== undefined && flags.shards !== plan.shards) lines.push(`its shard count would be set to ${flags.shards}${plan.shards === undefined ? '' : ` (now ${plan.shards}; refused if it holds runs)`}`);
        else if (now !== undefined) lines.push(`${plan.shards === undefined ? 'it would get' : 'it has'} ${shardCount(now)}`);
        out(`${lines.join('; ')}\n(dry run: nothing changed)`);
        return;
      }
      const done = await withPostgresPool(flags.store, (pool) => migrateSchema(pool, flags.schema, { shards: flags.shards }));
      const applied = MIGRATIONS.filter((m) => done.applied.includes(m.version));
      out(
        applied.length === 0
          ? `${schema} is up to date (version ${SCHEMA_VERSION}), with ${shardCount(done.shards)}`
          : `${schema}: applied ${names(applied)}; now at version ${SCHEMA_VERSION}, with ${shardCount(done.shards)}`,
      );
    });
}

/** `0001 schema, 0002 tasks`. */
function names(migrations: readonly Migration[]): string {
  return migrations.map((m) => `${String(m.version).padStart(4, '0')} ${m.name}`).join(', ');
}
