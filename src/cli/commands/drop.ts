/**
 * `taskwire drop`: removes a deployment's PostgreSQL schema (`DROP SCHEMA ...
 * CASCADE`) and/or a prefix's AMQP queues and exchanges, after a confirmation.
 *
 * @packageDocumentation
 */
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { brokerOption, collect, parseInteger, prefixOption, schemaOption, storeOption } from '../options.js';
import { out } from '../print.js';

/** Flags of `drop`. */
interface DropFlags {
  store?: string;
  broker?: string;
  schema: string;
  prefix: string;
  queue?: string[];
  shards?: number;
  yes?: boolean;
}

/** Registers the `drop` command. */
export function dropCommand(program: Command): void {
  program
    .command('drop')
    .description('remove a PostgreSQL schema (--store postgres://..., --schema) and/or a prefix\'s AMQP queues and exchanges (--broker, --prefix): every run and message in them is lost')
    .addOption(storeOption())
    .addOption(schemaOption())
    .addOption(brokerOption())
    .addOption(prefixOption())
    .option('-q, --queue <name>', 'work queue to delete besides "default" (repeatable)', collect)
    .addOption(new Option('--shards <n>', 'signal queues of up to this many shards are deleted (default: the schema\'s count, else 16)').argParser((text) => parseInteger(text, '--shards', 1, 1024)))
    .option('--yes', 'do not ask for confirmation (needed off a terminal)')
    .action(async (flags: DropFlags) => {
      const store = flags.store !== undefined && flags.store !== '' ? flags.store : undefined;
      const broker = flags.broker !== undefined && flags.broker !== '' ? flags.broker : undefined;
      if (store === undefined && broker === undefined) throw new ConfigError('drop needs --store postgres://... (the schema) and/or --broker (the prefix\'s queues)');
      if (store !== undefined && !/^postgres(ql)?:\/\//.test(store)) throw new ConfigError('drop removes a PostgreSQL schema: --store must be a postgres:// URL (delete a SQLite file with rm)');
      const what = [store === undefined ? undefined : `schema "${flags.schema}"`, broker === undefined ? undefined : `AMQP prefix "${flags.prefix}"`].filter((w) => w !== undefined).join(' and ');
      const name = store === undefined ? flags.prefix : flags.schema;
      if (flags.yes !== true) await confirm(what, name);
      let shards = flags.shards;
      if (store !== undefined) {
        const { withPostgresPool } = await import('../../store/postgres/postgres-store.js');
        const { pendingMigrations } = await import('../../store/postgres/migrations.js');
        const { quoteSchema } = await import('../../store/postgres/schema-name.js');
        const quoted = quoteSchema(flags.schema);
        await withPostgresPool(store, async (pool) => {
          shards ??= (await pendingMigrations(pool, flags.schema)).shards;
          await pool.query(`DROP SCHEMA IF EXISTS ${quoted} CASCADE`);
        });
        out(`dropped schema "${flags.schema}"`);
      }
      if (broker !== undefined) {
        const { deleteAmqpPrefix } = await import('../../transport/amqp/index.js');
        const queues = [...new Set(['default', ...(flags.queue ?? [])])];
        await deleteAmqpPrefix({ url: broker, prefix: flags.prefix, shards: shards ?? 16 }, queues);
        out(`deleted the queues and exchanges of AMQP prefix "${flags.prefix}" (work queues: ${queues.join(', ')})`);
      }
    });
}

/**
 * Asks, on a terminal, to type `name` to confirm dropping `what`.
 *
 * @throws ConfigError off a terminal (pass --yes), or when the answer is not `name`.
 */
async function confirm(what: string, name: string): Promise<void> {
  if (process.stdin.isTTY !== true) throw new ConfigError(`drop removes ${what} and everything in it: pass --yes to confirm (standard input is not a terminal to ask on)`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`This removes ${what} and every run and message in it. Type "${name}" to confirm: `);
    if (answer.trim() !== name) throw new ConfigError(`not confirmed: the answer was not "${name}"; nothing dropped`);
  } finally {
    prompt.close();
  }
}
