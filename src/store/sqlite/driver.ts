/**
 * better-sqlite3, the SQLite store's driver, loaded when a SQLite store opens
 * and not before: it is an optional dependency (a native addon, built from
 * source where no prebuilt binary can be fetched), absent for users who run
 * distributed only. Importing `taskwire/sqlite` does not load it; opening a
 * store without it fails with a ConfigError saying what to install.
 *
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { ConfigError } from '../../errors.js';

/** The npm package of the SQLite driver. */
export const SQLITE_DRIVER = 'better-sqlite3';

/** How a package is loaded (`require`; a test passes its own). */
export type LoadPackage = (id: string) => unknown;

/** The better-sqlite3 constructor. */
export type SqliteDriver = typeof Database;

const requireHere: LoadPackage = createRequire(import.meta.url);

const APPROVE = `let its install script run (npm 11: \`npm install-scripts approve ${SQLITE_DRIVER}\`, recorded in your package.json's \`allowScripts\`)`;

/** Whether `error` says that the package `id` itself (not one of its files or dependencies) cannot be found. */
function isMissingPackage(error: unknown, id: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${id}'`);
}

/** Whether `error` says that better-sqlite3's native addon is missing or built for another Node.js. */
function isMissingAddon(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ERR_DLOPEN_FAILED' || (typeof message === 'string' && message.startsWith('Could not locate the bindings file'));
}

/** The first sentence of an error message (bindings's goes on with every path it tried). */
function firstSentence(message: string): string {
  return /^[^\n]*?(?:\.(?= )|$)/m.exec(message)?.[0] ?? message;
}

/**
 * Loads better-sqlite3 (Node caches it: only the first call reads it).
 *
 * @throws ConfigError (`TW_CONFIG`) naming the package and how to install it, when it is not installed.
 */
export function loadSqliteDriver(load: LoadPackage = requireHere): SqliteDriver {
  try {
    return load(SQLITE_DRIVER) as SqliteDriver;
  } catch (error) {
    if (!isMissingPackage(error, SQLITE_DRIVER)) throw error;
    throw new ConfigError(
      `SQLite store: the package "${SQLITE_DRIVER}" is not installed (an optional dependency of taskwire, needed only for SQLite stores): ` +
        `install it with \`npm install ${SQLITE_DRIVER}\` and ${APPROVE}, or use the store "memory" or a postgres:// URL`,
      { cause: error },
    );
  }
}

/**
 * Opens the database file at `path` with better-sqlite3.
 *
 * @throws ConfigError (`TW_CONFIG`) when the driver is not installed, when its
 * native addon is missing or was built for another Node.js (saying how to
 * build it), or when the file cannot be opened.
 */
export function openDatabase(path: string, busyTimeoutMs: number, load: LoadPackage = requireHere): Database.Database {
  const Driver = loadSqliteDriver(load);
  try {
    return new Driver(path, { timeout: busyTimeoutMs });
  } catch (error) {
    const message = (error as Error).message;
    if (isMissingAddon(error)) {
      throw new ConfigError(
        `SQLite store: the native addon of "${SQLITE_DRIVER}" is missing or was built for another Node.js (${firstSentence(message)}): ` +
          `${APPROVE}, then rebuild it with \`npm rebuild ${SQLITE_DRIVER}\``,
        { cause: error },
      );
    }
    throw new ConfigError(`SQLite store: cannot open "${path}": ${message}`, { cause: error });
  }
}
