/**
 * `taskwire migrate`, as a subprocess against the real PostgreSQL: it says
 * which migrations it applied, `--dry-run` lists them and changes nothing;
 * `--shards` is validated, set on a new schema, and a change is refused once
 * the schema holds runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, openPostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { startedRun } from '../store/commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { taskwire } from './helpers.js';

afterAll(endAdminPool);

// Several taskwire processes one after the other: more than 30 s on a loaded machine.
describe.skipIf(servicesSkipped())('taskwire migrate --shards', { timeout: 120_000 }, () => {
  it('validates the count, sets it on a new schema, and refuses another once the schema holds runs', async () => {
    const url = await requirePostgres();
    const schema = schemaName();
    try {
      const migrate = (...args: string[]) => taskwire(['migrate', '--store', url, '--schema', schema, ...args]);
      for (const bad of ['0', '1025']) {
        const result = await migrate('--shards', bad);
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain('--shards expected an integer from 1 to 1024');
      }
      const all = MIGRATIONS.map((m) => `${String(m.version).padStart(4, '0')} ${m.name}`).join(', ');
      const plan = await migrate('--dry-run');
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toContain(`schema "${schema}" (does not exist yet) lacks ${MIGRATIONS.length} migrations: ${all}; it would get 16 shards`);
      expect(plan.stdout).toContain('(dry run: nothing changed)');
      expect((await (await adminPool()).query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount).toBe(0);

      const created = await migrate('--shards', '4');
      expect(created.stderr).toBe('');
      expect(created.stdout).toContain(`schema "${schema}": applied ${all}; now at version ${SCHEMA_VERSION}, with 4 shards`);
      expect((await migrate('--dry-run', '--shards', '8')).stdout).toContain(`schema "${schema}" is up to date (version ${SCHEMA_VERSION}): no migration to apply; its shard count would be set to 8 (now 4`);

      const store = await openPostgresStore({ url, schema });
      await store.commit([startedRun('cli-run')]);
      await store.close();
      const refused = await migrate('--shards', '8');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`"${schema}" has 4 shard(s) and already holds runs`);
      expect((await migrate()).stdout).toContain(`schema "${schema}" is up to date (version ${SCHEMA_VERSION}), with 4 shards`);
    } finally {
      await dropSchema(schema);
    }
  });
});
