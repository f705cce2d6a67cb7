/**
 * `taskwire migrate --shards`, as a subprocess against the real PostgreSQL:
 * the count is validated, set on a new schema, and a change is refused once
 * the schema holds runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { startedRun } from '../store/commits.js';
import { dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { taskwire } from './helpers.js';

afterAll(endAdminPool);

describe.skipIf(servicesSkipped())('taskwire migrate --shards', () => {
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
      const created = await migrate('--shards', '4');
      expect(created.stderr).toBe('');
      expect(created.stdout).toContain(`schema "${schema}" is up to date, with 4 shards`);

      const store = await openPostgresStore({ url, schema });
      await store.commit([startedRun('cli-run')]);
      await store.close();
      const refused = await migrate('--shards', '8');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`"${schema}" has 4 shard(s) and already holds runs`);
      expect((await migrate()).stdout).toContain('with 4 shards');
    } finally {
      await dropSchema(schema);
    }
  });
});
