/**
 * The host lock of an embedded store file: a `taskwire serve` or `taskwire run`
 * looks for the file's live processes and writes its own heartbeat row while
 * holding it, so that two started at the same moment cannot both find the file
 * free (both would then carry out the same runs). The lock is a file beside the
 * store (`<file>.lock`) created exclusively, naming its holder; one left by a
 * process that died is taken over.
 *
 * @packageDocumentation
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';

/** Longest wait for the lock (ms): it is held only while a process starts. */
const WAIT_MS = 30_000;
/** A lock older than this (ms) is stale whoever holds it (a holder on another host that died). */
const STALE_MS = 60_000;

interface Holder {
  pid: number;
  host: string;
  at: number;
}

/** Whether the lock at `path` was left by a process that is gone. */
function stale(path: string, now: number): boolean {
  let holder: Holder;
  try {
    holder = JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return false; // being written, or removed meanwhile: look again
  }
  if (now - holder.at > STALE_MS) return true;
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs `critical` holding the host lock of the store file `file`, waiting for
 * it while another process holds it.
 *
 * @throws ConfigError (`TW_CONFIG`) naming the lock file when it stays held for {@link WAIT_MS}.
 */
export async function withHostLock<T>(file: string, critical: () => Promise<T>): Promise<T> {
  const path = `${file}.lock`;
  const until = Date.now() + WAIT_MS;
  for (;;) {
    try {
      writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() } satisfies Holder), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (stale(path, Date.now())) rmSync(path, { force: true });
    else if (Date.now() > until) throw new ConfigError(`${path} is still held after ${WAIT_MS / 1000} s by a process starting on ${file}: if none is, delete the lock file`);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    return await critical();
  } finally {
    rmSync(path, { force: true });
  }
}
