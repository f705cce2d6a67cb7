/**
 * Runs the `taskwire` command as a subprocess (bin/taskwire.js, through tsx when
 * dist/ is absent) against a temporary SQLite store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');

const BIN = join(ROOT, 'bin/taskwire.js');

/**
 * `TEST_BUILT_CLI=1` (what `.ci/run` sets after `npm run build`): the commands must
 * run the compiled package (`dist/`), as installed, not the sources.
 */
if (process.env['TEST_BUILT_CLI'] === '1' && !existsSync(join(ROOT, 'dist/cli/main.js'))) {
  throw new Error('TEST_BUILT_CLI=1 but dist/cli/main.js is missing: run `npm run build` first');
}

/** What a command did. */
export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temporary directory with a store, and `taskwire` bound to it. */
export interface Sandbox {
  dir: string;
  store: string;
  /** Runs `taskwire <args> --store <store>` (with `store: false`, without `--store`). */
  tw(args: string[], options?: { store?: boolean; env?: Record<string, string> }): Promise<Result>;
  /** Starts `taskwire <args> --store <store>` and returns at once. */
  start(args: string[]): Running;
  /** Writes a file in the sandbox and returns its path. */
  write(name: string, text: string): string;
  remove(): void;
}

/** A `taskwire` subprocess still running: its output so far, a wait for a line, its end. */
export interface Running {
  child: ChildProcess;
  /** Everything it wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves once standard output or error matches `pattern` (rejects if it ends first). */
  waitFor(pattern: RegExp): Promise<void>;
  /** Resolves when it has ended. */
  result: Promise<Result>;
}

/** Starts bin/taskwire.js with `args`; TASKWIRE_* variables of the test's environment are left out. */
export function startTaskwire(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Running {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('TASKWIRE_')) env[key] = value;
  Object.assign(env, { USER: 'tester', NO_COLOR: '1' }, options.env);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  const seen = (): void => {
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    seen();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    seen();
  });
  const result = new Promise<Result>((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
  const waitFor = (pattern: RegExp): Promise<void> =>
    new Promise((done, fail) => {
      const check = (): void => {
        if (!pattern.test(stdout) && !pattern.test(stderr)) return;
        watchers.delete(check);
        done();
      };
      watchers.add(check);
      check();
      void result.then(() => {
        if (watchers.delete(check)) fail(new Error(`taskwire ${args.join(' ')} ended before printing ${String(pattern)}:\n${stdout}\n${stderr}`));
      });
    });
  return { child, output: () => ({ stdout, stderr }), waitFor, result };
}

/** Runs bin/taskwire.js with `args` to its end; TASKWIRE_* variables of the test's environment are left out. */
export function taskwire(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return startTaskwire(args, options).result;
}

/** A sandbox in a fresh temporary directory. */
export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-cli-'));
  const store = join(dir, 'runs.db');
  return {
    dir,
    store,
    tw: (args, options = {}) => taskwire(options.store === false ? args : [...args, '--store', store], { cwd: dir, ...(options.env === undefined ? {} : { env: options.env }) }),
    start: (args) => startTaskwire([...args, '--store', store], { cwd: dir }),
    write: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The import line of a fixture flow written to a temporary directory: the repo's API by absolute path. */
export const IMPORT_API = (names: string): string => `import { ${names} } from ${JSON.stringify(join(ROOT, 'src/index.js'))};`;

/** Parses a command's JSON output. */
export function json<T = unknown>(result: Result): T {
  return JSON.parse(result.stdout) as T;
}

/**
 * A flow file in `sandboxed` whose task `gate` runs until the file `open` exists there
 * (or 60 s, or its execution is aborted): the test decides when it ends.
 */
export function gatedFlow(sandboxed: Sandbox): string {
  return sandboxed.write(
    'gated.ts',
    `${IMPORT_API('flow, task')}
import { existsSync } from 'node:fs';
export const gate = task('gate', { provides: 'x', apply: async (_: object, { signal }: { signal: AbortSignal }) => {
  for (let i = 0; i < 600 && !signal.aborted && !existsSync(${JSON.stringify(`${sandboxed.dir}/open`)}); i++) await new Promise((r) => setTimeout(r, 100));
  return 1;
} });
export const after = task('after', { requires: ['x'], apply: ({ x }: { x: number }) => x + 1 });
export default flow('gated').link(gate.s(), after.s());
`,
  );
}
