/**
 * Which processes execute the runs of an embedded store (a SQLite file), told by
 * the workers' heartbeat rows: a `taskwire serve` (or a program's `connect()`
 * that resumes runs) carries out every run whose tasks it has, a `taskwire run`
 * only the runs it started (its row lists them, `WorkerBeat.runs`). A change
 * made from the CLI to a run that no live process executes is recorded all the
 * same, and the CLI says so ({@link noticeUnexecuted}); `run` and `serve` look
 * for the file's live processes before they start ({@link checkUnserved}, {@link servingProcess}).
 *
 * @packageDocumentation
 */
import { tasksOf } from '../runtime/resume.js';
import type { NodeStatus, RunState } from '../engine/state.js';
import type { Store, WorkerBeat } from '../store/port.js';
import { ConfigError } from '../errors.js';
import { isLive, STALE_AFTER_BEATS } from '../worker/heartbeat.js';
import { withHostLock } from './host-lock.js';
import { duration, note } from './print.js';

/**
 * Exit code of a change recorded in an embedded store that no live process
 * executes: it is carried out once one starts (`taskwire serve`).
 */
export const UNEXECUTED_EXIT_CODE = 3;

/** Node states in which a node needs no process now (it waits, or is done). */
const IDLE: readonly NodeStatus[] = ['waiting', 'succeeded', 'failed', 'skipped', 'cancelled', 'listening'];

/** Whether `run` has work that a process must carry out: a node or activation to execute (or retry, or roll back). */
function hasWork(run: RunState): boolean {
  const nodes = [...run.nodes.values()].some((node) => !IDLE.includes(node.status) || node.undo === 'running');
  return nodes || [...run.activations.values()].some((activation) => activation.status === 'running' || activation.status === 'retrying');
}

/** The SQLite file of `store`, or undefined for another store (memory, PostgreSQL). */
export function storeFile(store: Store): string | undefined {
  return store.kind === 'sqlite' ? (store as Store & { path: string }).path : undefined;
}

/** The result of `check(store)`; when it throws, `store` is closed first (a command that refuses to start leaves nothing open). */
export async function closeOnError<T>(store: Store, check: (store: Store) => Promise<T>): Promise<T> {
  try {
    return await check(store);
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The live heartbeat rows of an embedded store's processes (none for a PostgreSQL or memory store). */
async function liveProcesses(store: Store): Promise<WorkerBeat[]> {
  if (storeFile(store) === undefined) return [];
  const now = Date.now();
  return (await store.listWorkers()).filter((beat) => isLive(beat, now));
}

/** The live processes of an embedded store that carry out every run whose tasks they have (`taskwire serve`, `connect()` resuming runs). */
async function liveHosts(store: Store): Promise<WorkerBeat[]> {
  return (await liveProcesses(store)).filter((beat) => beat.runs === undefined);
}

/** A process as people name it: `taskwire serve (or a program connected with its tasks) (pid 4242 on build-1, last beat 1.2s ago)`; without `lastBeat`, no beat. */
function processName(beat: WorkerBeat, lastBeat = true): string {
  const what = beat.runs === undefined ? 'taskwire serve (or a program connected with its tasks)' : `taskwire run (${beat.runs.length === 0 ? 'starting its run' : `run ${beat.runs.join(', ')}`})`;
  return `${what} (pid ${beat.pid} on ${beat.host}${lastBeat ? `, last beat ${duration(Date.now() - beat.beatAt)} ago` : ''})`;
}

/**
 * Starts a process on an embedded store: `check(store)` (which looks for the
 * file's live processes), then `start(result)` (which connects, writing the
 * process's heartbeat row), holding the file's host lock throughout, so that
 * a process starting at the same moment sees this one. When `check` throws,
 * `store` is closed first. Without a file (PostgreSQL, memory), no lock.
 */
export async function startOnFile<C, T>(store: Store, check: (store: Store) => Promise<C>, start: (checked: C) => Promise<T>): Promise<T> {
  const file = storeFile(store);
  const critical = async (): Promise<T> => start(await closeOnError(store, check));
  return file === undefined ? critical() : withHostLock(file, critical);
}

/**
 * Before `taskwire serve`: a live process that already executes the file would
 * carry out the same runs (another `serve`, a program's `connect()`, a `taskwire
 * run` whose run `serve` would resume): refused.
 *
 * @throws ConfigError (`TW_CONFIG`) naming the file and the process.
 */
export async function checkUnserved(store: Store): Promise<void> {
  const [beat] = await liveProcesses(store);
  if (beat === undefined) return;
  const then = beat.runs === undefined ? 'stop it first: one process serves a file' : 'let it end (or Ctrl-C it: the serve then resumes its run), then start serve';
  throw new ConfigError(
    `${storeFile(store) as string} is already executed by ${processName(beat)}: ${then} (a process killed without closing counts until ${duration(STALE_AFTER_BEATS * beat.heartbeatMs)} after its last beat)`,
  );
}

/**
 * Before an embedded `taskwire run` of a flow using `tasks`: the live process
 * serving the file, to hand the run to (it executes its own copy of the tasks),
 * or undefined when none does (`taskwire run` executes the run itself).
 *
 * @throws ConfigError (`TW_CONFIG`) when that process lacks some of `tasks`, naming them.
 */
export async function servingProcess(store: Store, tasks: readonly string[]): Promise<WorkerBeat | undefined> {
  const [beat] = await liveHosts(store);
  if (beat === undefined) return undefined;
  const missing = [...new Set(tasks)].filter((name) => !beat.tasks.includes(name)).sort();
  if (missing.length === 0) return beat;
  throw new ConfigError(
    `${storeFile(store) as string} is served by ${processName(beat)}, which lacks the tasks ${missing.join(', ')} of this flow: ` +
      'restart that serve with --tasks <this file> (or a module exporting them), or run on another --store',
  );
}

/** How `taskwire run` names the process it handed its run to: `taskwire serve (or a program connected with its tasks) (pid 4242 on build-1)`. */
export function servingName(beat: WorkerBeat): string {
  return processName(beat, false);
}

/**
 * After a change to the runs `runIds` of an embedded store: the runs with work
 * to carry out ({@link hasWork}) that no live process executes (none carries them out, or those that could lack
 * some of their tasks) are named on standard error, with how to start a process
 * that executes them, and the exit code is set to {@link UNEXECUTED_EXIT_CODE}.
 * Nothing for a PostgreSQL or memory store.
 */
export async function noticeUnexecuted(store: Store, runIds: readonly string[]): Promise<void> {
  const file = storeFile(store);
  if (file === undefined || runIds.length === 0) return;
  const live = await liveProcesses(store);
  const left: string[] = [];
  const lacking = new Set<string>();
  for (const id of runIds) {
    const run = await store.loadRun(id);
    if (run === undefined || !hasWork(run)) continue;
    const tasks = tasksOf(run);
    if (live.some((beat) => (beat.runs === undefined ? tasks.every((name) => beat.tasks.includes(name)) : beat.runs.includes(id)))) continue;
    left.push(id);
    for (const beat of live.filter((b) => b.runs === undefined)) for (const name of tasks.filter((t) => !beat.tasks.includes(t))) lacking.add(name);
  }
  if (left.length === 0) return;
  const runs = left.length === 1 ? `run ${left[0] as string}` : `runs ${left.join(', ')}`;
  const why = lacking.size === 0 ? `no process executes ${file}` : `no process executing ${file} has the tasks of ${runs} (${[...lacking].sort().join(', ')})`;
  note(`taskwire: ${why}: the change to ${runs} is recorded and will be carried out when one starts: taskwire serve --tasks <module> --store ${file}`);
  process.exitCode = UNEXECUTED_EXIT_CODE;
}
