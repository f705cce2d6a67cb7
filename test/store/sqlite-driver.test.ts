/**
 * better-sqlite3 is an optional dependency: loaded when a SQLite store opens,
 * and when it is missing (or its native addon is), a ConfigError that says
 * what to install or rebuild.
 */
import { describe, expect, it } from 'vitest';
import { loadSqliteDriver, openDatabase, type LoadPackage } from '../../src/store/sqlite/driver.js';

/** A `require` that fails as Node does for a package that is not installed. */
const missing = (what: string): LoadPackage => () => {
  throw Object.assign(new Error(`Cannot find module '${what}'\nRequire stack:\n- /app/node_modules/taskwire/dist/store/sqlite/driver.js`), { code: 'MODULE_NOT_FOUND' });
};

/** A `require` giving a driver whose constructor throws `error` (as better-sqlite3 does when it loads its addon). */
const driverThrowing = (error: Error): LoadPackage => () =>
  function Driver(): never {
    throw error;
  };

describe('the SQLite driver, loaded on first use', () => {
  it('is better-sqlite3 when installed', () => {
    const db = openDatabase(':memory:', 100);
    expect(db.prepare('select 1 as one').get()).toEqual({ one: 1 });
    db.close();
  });

  it('missing: a ConfigError naming the package and how to install it', () => {
    const load = (): unknown => loadSqliteDriver(missing('better-sqlite3'));
    expect(load).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(load).toThrow(/"better-sqlite3" is not installed.*`npm install better-sqlite3`.*`npm install-scripts approve better-sqlite3`/);
    expect(() => openDatabase(':memory:', 100, missing('better-sqlite3'))).toThrow(/`npm install better-sqlite3`/);
  });

  it('a dependency of it missing is not mistaken for it', () => {
    expect(() => loadSqliteDriver(missing('bindings'))).toThrow(expect.objectContaining({ code: 'MODULE_NOT_FOUND' }));
  });

  it('installed without its native addon (install script not run): a ConfigError saying to approve and rebuild it', () => {
    const notBuilt = new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node');
    const open = (): unknown => openDatabase('/tmp/x.db', 100, driverThrowing(notBuilt));
    expect(open).toThrow(expect.objectContaining({ code: 'TW_CONFIG', cause: notBuilt }));
    expect(open).toThrow(/native addon of "better-sqlite3" is missing.*Could not locate the bindings file\.\).*`npm rebuild better-sqlite3`/);
  });

  it('its addon built for another Node.js: the same', () => {
    const otherAbi = Object.assign(new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115.'), { code: 'ERR_DLOPEN_FAILED' });
    expect(() => openDatabase('/tmp/x.db', 100, driverThrowing(otherAbi))).toThrow(/another Node\.js.*`npm rebuild better-sqlite3`/);
  });

  it('a file it cannot open: a ConfigError naming the file', () => {
    expect(() => openDatabase('/nonexistent-dir/x.db', 100)).toThrow(expect.objectContaining({ code: 'TW_CONFIG', message: expect.stringContaining('cannot open "/nonexistent-dir/x.db"') }));
  });
});
