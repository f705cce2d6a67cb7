/**
 * `taskwire migrate`: applies the PostgreSQL migrations (also applied at start).
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { schemaOption, storeOption } from '../options.js';
import { out } from '../print.js';

/** Registers the `migrate` command. */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply the PostgreSQL schema migrations')
    .addOption(storeOption().makeOptionMandatory())
    .addOption(schemaOption())
    .action(async (flags: { store: string; schema: string }) => {
      if (!/^postgres(ql)?:\/\//.test(flags.store)) throw new ConfigError('migrate needs a postgres:// store URL (--store or TASKWIRE_STORE_URL)');
      const { openPostgresStore } = await import('../../store/postgres/index.js');
      const store = await openPostgresStore({ url: flags.store, schema: flags.schema });
      await store.close();
      out(`schema "${flags.schema}" is up to date`);
    });
}
