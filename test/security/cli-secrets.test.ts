/**
 * Connection URLs read from files (issue 10, point 4): `--store-url-file`,
 * `--broker-url-file` and their `TASKWIRE_*_URL_FILE` variables keep secrets
 * out of `ps`; the file's content never appears in errors.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sandbox, type Sandbox } from '../cli/helpers.js';
import { dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { requirePostgres } from '../support/services.js';

describe('URL files', () => {
  let box: Sandbox;
  beforeEach(() => {
    box = sandbox();
  });
  afterEach(() => box.remove());
  afterAll(() => endAdminPool());

  it('reads the store URL from --store-url-file (trailing newline ignored)', async () => {
    const db = join(box.dir, 'from-file.db');
    const file = box.write('store-url', `${db}\n`);
    const result = await box.tw(['runs', '--json', '--store-url-file', file], { store: false });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
    expect(existsSync(db)).toBe(true);
  });

  it('reads it from TASKWIRE_STORE_URL_FILE too', async () => {
    const db = join(box.dir, 'from-env-file.db');
    const file = box.write('store-url', db);
    const result = await box.tw(['runs', '--json'], { store: false, env: { TASKWIRE_STORE_URL_FILE: file } });
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(db)).toBe(true);
  });

  it('refuses both a URL and a URL file on the command line', async () => {
    const file = box.write('store-url', join(box.dir, 'x.db'));
    const result = await box.tw(['runs', '--store-url-file', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--store and --store-url-file.*TW_CONFIG/);
  });

  it('names a missing or empty file without printing any content', async () => {
    const missing = await box.tw(['runs', '--store-url-file', join(box.dir, 'nope')], { store: false });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --store-url-file .*nope.*TW_CONFIG/);
    const empty = await box.tw(['runs', '--store-url-file', box.write('empty', '\n')], { store: false });
    expect(empty.stderr).toMatch(/is empty.*TW_CONFIG/);
  });

  it('satisfies a required --broker from --broker-url-file (the broker is then tried, its password masked)', async () => {
    const file = box.write('broker-url', 'amqp://user:Sp@c/al:Pw#1@127.0.0.1:1/\n');
    // A broker needs a store every process can see (PostgreSQL): a SQLite one is refused first.
    const schema = schemaName();
    const result = await box
      .tw(['coordinator', '--broker-url-file', file, '--store', await requirePostgres(), '--schema', schema], { store: false })
      .finally(() => dropSchema(schema));
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/required option/);
    expect(result.stderr).toMatch(/RabbitMQ at amqp:\/\/user:\*\*\*@127\.0\.0\.1:1/);
    expect(result.stderr).not.toMatch(/Sp@c|al:Pw/);
  });

  it('still says that a broker is required when neither is given', async () => {
    const result = await box.tw(['coordinator']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--broker/);
  });
});
