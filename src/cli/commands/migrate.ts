/**
 * `taskwire migrate`: applies the PostgreSQL migrations (also applied at
 * start) and sets the schema's shard count (`--shards`).
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { MAX_SHARDS } from '../../store/postgres/shard-count.js';
import { parseInteger, schemaOption, storeOption } from '../options.js';
import { out } from '../print.js';

/** Registers the `migrate` command. */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply the PostgreSQL schema migrations')
    .addOption(storeOption().makeOptionMandatory())
    .addOption(schemaOption())
    .addOption(
      new Option(
        '--shards <n>',
        `shard count of the schema, 1 to ${MAX_SHARDS} (a new schema: 16); refused once the schema holds runs with another count`,
      ).argParser((text) => parseInteger(text, '--shards', 1, MAX_SHARDS)),
    )
    .action(async (flags: { store: string; schema: string; shards?: number }) => {
      if (!/^postgres(ql)?:\/\//.test(flags.store)) throw new ConfigError('migrate needs a postgres:// store URL (--store or TASKWIRE_STORE_URL)');
      const { openPostgresStore } = await import('../../store/postgres/index.js');
      const store = await openPostgresStore({ url: flags.store, schema: flags.schema, shards: flags.shards });
      await store.close();
      out(`schema "${flags.schema}" is up to date, with ${store.shards} shard${store.shards === 1 ? '' : 's'}`);
    });
}
