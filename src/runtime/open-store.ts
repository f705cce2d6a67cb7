/**
 * Opening a store from a connect option: a Store, `memory`, a SQLite path or a
 * PostgreSQL URL. Drivers are imported only when used.
 *
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Store } from '../store/port.js';
import { MemoryStore } from '../store/memory/index.js';

/** Where the embedded default keeps its runs, relative to the current directory. */
export const DEFAULT_SQLITE_PATH = '.taskwire/taskwire.db';

/** Opens the store an option names (see `ConnectOptions.store`). */
export async function openStore(option: Store | string | undefined, context: { distributed: boolean; schema?: string }): Promise<Store> {
  if (typeof option === 'object') return option;
  if (option === 'memory') return new MemoryStore();
  if (option !== undefined && /^postgres(ql)?:\/\//.test(option)) {
    const { openPostgresStore } = await import('../store/postgres/index.js');
    return openPostgresStore({ url: option, ...(context.schema === undefined ? {} : { schema: context.schema }) });
  }
  if (option === undefined && context.distributed) {
    throw new ConfigError('a distributed client needs a PostgreSQL store: pass store: "postgres://..." or set TASKWIRE_STORE_URL');
  }
  const path = resolve(option === undefined ? DEFAULT_SQLITE_PATH : option.replace(/^sqlite:/, ''));
  mkdirSync(dirname(path), { recursive: true });
  const { openSqliteStore } = await import('../store/sqlite/index.js');
  return openSqliteStore({ path });
}
