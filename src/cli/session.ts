/**
 * How read and change commands reach existing runs: as a pure client (no worker,
 * no coordinator taking signals, no resuming), embedded on the SQLite file or
 * distributed with a broker. Also the parsing shared by those commands.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import type { Client } from '../client/client.js';
import type { RunHandle } from '../client/run-handle.js';
import type { StepReport } from '../coordinator/options.js';
import { ConfigError } from '../errors.js';
import { connect } from '../runtime/connect.js';
import { openStore } from '../runtime/open-store.js';
import type { Store } from '../store/port.js';
import { noticeUnexecuted } from './embedded-hosts.js';
import { brokerOption, connectionOptions, jsonOption, parseInteger, prefixOption, schemaOption, storeOption, type ConnectionFlags } from './options.js';
import { out, printJson } from './print.js';

/** Flags of commands that connect and may print JSON. */
export interface ClientFlags extends ConnectionFlags {
  json?: boolean;
}

/** Adds the connection flags (`--store`, `--broker`, `--prefix`, `--schema`) and `--json`. */
export function clientOptions(command: Command): Command {
  return command.addOption(storeOption()).addOption(brokerOption()).addOption(prefixOption()).addOption(schemaOption()).addOption(jsonOption());
}

/** Connects as a pure client (no worker, no coordinator) to the store and broker `flags` name; the store is closed if connecting fails. */
export async function connectClient(flags: ConnectionFlags): Promise<{ client: Client; store: Store }> {
  const options = connectionOptions(flags);
  const store = await openStore(options.store, { distributed: options.broker !== undefined, ...(options.schema === undefined ? {} : { schema: options.schema }) });
  try {
    return { client: await connect({ ...options, store, worker: false, coordinator: false, resume: false }), store };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Connects as a pure client, calls `use` with the client and its store, and closes. */
export async function withClient<T>(flags: ConnectionFlags, use: (client: Client, store: Store) => Promise<T>): Promise<T> {
  const { client, store } = await connectClient(flags);
  try {
    return await use(client, store);
  } finally {
    await client.close();
  }
}

/**
 * The id of the run `text` names, as git takes commit prefixes: `text` itself
 * when a run has that id, else the one run whose id starts with it. No run
 * starting with it: `text` (the command then reports the unknown run).
 *
 * @throws ConfigError when several runs start with `text` and none is `text`, naming some of them.
 */
export async function resolveRunId(store: Store, text: string): Promise<string> {
  const matches = await store.listRuns({ idPrefix: text, limit: 5 });
  if (matches.length <= 1 || matches.some((run) => run.id === text)) return matches[0]?.id ?? text;
  if ((await store.loadRun(text)) !== undefined) return text;
  const some = matches.map((run) => run.id).join(', ');
  throw new ConfigError(`run id prefix "${text}" is ambiguous: it starts ${some}${matches.length === 5 ? ', ...' : ''} (give more of the id)`);
}

/** {@link withClient} on the run `text` names ({@link resolveRunId}). */
export function withRun<T>(flags: ConnectionFlags, text: string, use: (run: RunHandle, store: Store) => Promise<T>): Promise<T> {
  return withClient(flags, async (client, store) => use(client.run(await resolveRunId(store, text)), store));
}

/**
 * Applies a change to a run and prints what changed with the new graph version
 * (`linked a -> b: graph version 4 (run running)`). Embedded, nothing executes
 * in this process: when no live process executes the run either, standard error
 * says so and the exit code is 3 (see {@link noticeUnexecuted}).
 * `what` may name the run: it gets the run's full id.
 */
export async function applyChange(flags: ClientFlags, runId: string, what: string | ((id: string) => string), change: (run: RunHandle) => Promise<StepReport>): Promise<void> {
  await withRun(flags, runId, async (run, store) => {
    const report = await change(run);
    const said = typeof what === 'string' ? what : what(run.id);
    if (flags.json === true) printJson({ run: run.id, change: said, status: report.status, graphVersion: report.graphVersion });
    else out(`${said}: graph version ${report.graphVersion} (run ${report.status})`);
    await noticeUnexecuted(store, [run.id]);
  });
}

/** Parses a JSON flag or argument; a clear error names it. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${what} expected JSON, got ${JSON.stringify(text)}: ${(error as Error).message}`);
  }
}

/** Parses a JSON object flag or argument. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  const value = parseJson(text, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${what} expected a JSON object, got ${text}`);
  return value as Record<string, unknown>;
}

/** Parses repeated `--map input=provided` pairs. */
export function parseMap(pairs: string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new ConfigError(`--map expected input=provided, got ${JSON.stringify(pair)}`);
    map[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return map;
}

/** Text of a rename map: ` (in=provided, ...)`, or nothing. */
export function mapText(map: Record<string, string> | undefined): string {
  if (map === undefined || Object.keys(map).length === 0) return '';
  return ` (${Object.entries(map).map(([input, provided]) => `${input}=${provided}`).join(', ')})`;
}

/** Parses a positive integer flag. */
export function parseCount(text: string, what: string, min = 1): number {
  return parseInteger(text, what, min);
}
