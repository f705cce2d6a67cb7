/**
 * Processes opening the same new SQLite store file at once (two `taskwire
 * serve`, a serve and a `taskwire run`) each get a whole database: the file is
 * created and migrated under a temporary name and linked into place, so no
 * process ever sees it empty (which it would refuse as not a database).
 * Threads stand in for the processes: they open each new path at the same moment.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';

/** A thread that loads the TypeScript of test/store/sqlite-open-thread.ts through tsx. */
const THREAD = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./sqlite-open-thread.ts', import.meta.url).href)}); })`;

const dir = mkdtempSync(join(tmpdir(), 'taskwire-new-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a new SQLite store file opened by several processes at once', () => {
  it('opens as a taskwire database in every one of them, and leaves no temporary file', { timeout: 120_000 }, async () => {
    const threads = 3;
    const paths = Array.from({ length: 30 }, (_, i) => join(dir, `race-${i}.db`));
    const barrier = new SharedArrayBuffer(4);
    const errors = await Promise.all(
      Array.from({ length: threads }, () => {
        const worker = new Worker(THREAD, { eval: true, workerData: { paths, barrier, threads } });
        return new Promise<string[]>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      }),
    );
    expect(errors.flat()).toEqual([]);
    expect(readdirSync(dir).filter((name) => !name.endsWith('.db')).sort()).toEqual([]);
  });
});
