/**
 * Small helpers shared by the API suite (no backend-specific code here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import { task, type Client, type Task, type TaskwireError } from '../../src/index.js';

/** How long a test waits for a run to settle before failing. */
export const WAIT = { timeoutMs: 10_000 };

/** Real time passing. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Re-runs `check` until it passes (the run advances, and announcements arrive, in the background). */
export const eventually = <T>(check: () => T | Promise<T>): Promise<T> => vi.waitFor(check, { timeout: 5000, interval: 10 });

/** A promise with its resolve function outside, to hold a task until the test lets it go. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A task held inside its apply until the test lets it go: `entered` resolves
 * when it starts, `release.resolve()` lets it return `result`.
 */
export function heldTask<N extends string, O>(name: N, result: O): { task: Task<N, Record<string, never>, O>; entered: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> } {
  const entered = deferred();
  const release = deferred();
  const held = task(name, {
    apply: async (_inputs: Record<string, never>) => {
      entered.resolve();
      await release.promise;
      return result;
    },
  });
  return { task: held, entered, release };
}

/** Resolves when the signal fires. */
export const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<TaskwireError> {
  try {
    await promise;
  } catch (error) {
    return error as TaskwireError;
  }
  throw new Error('expected a rejection');
}

/** A test's scratch folder for SQLite files, and the clients it connects. */
export interface Scratch {
  /** A file in the folder (a new folder for each test). */
  path(file: string): string;
  /** Clients to close after the test (before the folder is removed). */
  readonly clients: Client[];
}

/**
 * A scratch folder per test (named `<prefix><random>`) and the clients the test
 * connects: after each test the clients are closed, then the folder removed.
 * Call it in a `describe` block.
 */
export function sqliteScratch(prefix: string): Scratch {
  let dir = '';
  const clients: Client[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path: (file) => join(dir, file), clients };
}
