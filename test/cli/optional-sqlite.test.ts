/**
 * The `taskwire` command where better-sqlite3 (an optional dependency) is not
 * installed: a SQLite store is refused with what to install, everything else
 * works, a distributed worker included.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hidePackages } from '../support/hide-packages.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { ROOT, sandbox, startTaskwire } from './helpers.js';

const withoutSqlite = hidePackages(['better-sqlite3']);
const SEED = join(ROOT, 'examples/seed.ts');

describe('taskwire without better-sqlite3', () => {
  const box = sandbox();
  afterAll(() => box.remove());

  it('refuses a SQLite store with a TW_CONFIG error naming the package and how to install it (exit 2)', async () => {
    const result = await box.tw(['run', SEED], { env: withoutSqlite });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('"better-sqlite3" is not installed');
    expect(result.stderr).toContain('`npm install better-sqlite3`');
    expect(result.stderr).toMatch(/\(TW_CONFIG\)\n$/);
  });

  it('taskwire/sqlite imports without it, and opening a store throws the TW_CONFIG error', () => {
    const code = `const m = await import(${JSON.stringify(join(ROOT, 'src/store/sqlite/index.ts'))});
      try { m.openSqliteStore({ path: ':memory:' }); } catch (error) { console.log(error.code, error.message); }`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env: { ...process.env, ...withoutSqlite }, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^TW_CONFIG SQLite store: the package "better-sqlite3" is not installed/);
  });

  it('runs a flow on the memory store', async () => {
    const result = await box.tw(['run', SEED, '--store', 'memory', '--json'], { store: false, env: withoutSqlite });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'succeeded', nodes: { mult: { result: 9 } } });
  });
});

describe.skipIf(servicesSkipped())('a distributed taskwire worker without better-sqlite3', () => {
  const suffix = randomUUID().slice(0, 8);
  const space = { prefix: `twnosqlite-${suffix}`, schema: `tw_nosqlite_${suffix}` };
  afterAll(() => dropTestSpace(space));

  it('starts, and drains on SIGTERM with exit 0', async () => {
    const env = { ...withoutSqlite, TASKWIRE_BROKER_URL: await requireRabbit(), TASKWIRE_STORE_URL: await requirePostgres(), TASKWIRE_PREFIX: space.prefix, TASKWIRE_SCHEMA: space.schema };
    const worker = startTaskwire(['worker', '--tasks', 'examples/seed.ts'], { env });
    await worker.waitFor(/"msg":"ready"/);
    worker.child.kill('SIGTERM');
    const result = await worker.result;
    expect(result.code, JSON.stringify({ ...result, signal: worker.child.signalCode })).toBe(0);
    expect(result.stderr).toContain('"msg":"stopped"');
  });
});
