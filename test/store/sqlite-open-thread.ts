/**
 * A worker thread of test/store/sqlite-new-file.test.ts: for each path it is
 * given, waits for the others at a barrier, then opens (creating) the SQLite
 * store there and closes it; posts the error codes it met, by path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../../src/store/sqlite/index.js';

const { paths, barrier, threads } = workerData as { paths: string[]; barrier: SharedArrayBuffer; threads: number };
const arrived = new Int32Array(barrier);
const errors: string[] = [];
for (let i = 0; i < paths.length; i++) {
  // Barrier i: every thread arrives before any opens path i.
  Atomics.add(arrived, 0, 1);
  while (Atomics.load(arrived, 0) < (i + 1) * threads) Atomics.wait(arrived, 0, Atomics.load(arrived, 0), 5);
  try {
    const store = new SqliteStore({ path: paths[i] as string });
    await store.close();
  } catch (error) {
    errors.push(`${paths[i] as string}: ${(error as Error).message}`);
  }
}
parentPort?.postMessage(errors);
