/**
 * A new SQLite store file appears whole: it is created and migrated under a
 * temporary name, then linked into place. Two processes opening the same new
 * path at once (two `taskwire serve`, a serve and a `taskwire run`) would
 * otherwise race: SQLite creates the file empty and writes it on the first
 * transaction, and the other process would find a 0-byte file, which
 * {@link checkDatabaseFile} refuses as not a database.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, rmSync } from 'node:fs';
import { openDatabase } from './driver.js';
import { migrate, openError } from './schema.js';

/** Creates the store file at `path`, migrated, unless it exists (or another process creates it meanwhile). */
export function createDatabaseFile(path: string, busyTimeoutMs: number): void {
  if (path === ':memory:' || existsSync(path)) return;
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  try {
    const db = openDatabase(draft, busyTimeoutMs);
    try {
      db.pragma('journal_mode = WAL'); // kept in the file's header
      migrate(db);
    } catch (error) {
      throw openError(error, path);
    } finally {
      db.close();
    }
    try {
      linkSync(draft, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process created it first: theirs is used
    }
  } finally {
    for (const file of [draft, `${draft}-wal`, `${draft}-shm`]) rmSync(file, { force: true });
  }
}
