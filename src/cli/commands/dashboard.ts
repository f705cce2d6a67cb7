/**
 * `taskwire dashboard`: the dashboard on any store (docs/dashboard.md), as a
 * pure client (no worker, no coordinator taking signals). `taskwire dev <file>`:
 * the local loop in one process, an embedded SQLite store with a worker and a
 * coordinator for the file's tasks (as `taskwire serve --tasks`) and the
 * dashboard. Both print the dashboard's URL and stop on SIGINT or SIGTERM.
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import type { Client } from '../../client/client.js';
import type { DashboardDeps } from '../../dashboard/server/app.js';
import { packageAssets } from '../../dashboard/server/assets.js';
import { AmqpQueues } from '../../dashboard/server/queues.js';
import { startDashboard } from '../../dashboard/server/server.js';
import { environmentTokens, generateToken, readTokensFile, TokenTable, type DashboardToken } from '../../dashboard/server/tokens.js';
import { createLogger, type LogFormat } from '../../observability/pino-logger.js';
import { connect } from '../../runtime/connect.js';
import { openStore } from '../../runtime/open-store.js';
import { loadConditions, loadFlow, loadTasks } from '../load-flow.js';
import { brokerOption, collect, connectionOptions, logFormatOption, parseInputs, parseInteger, prefixOption, schemaOption, storeOption, type ConnectionFlags } from '../options.js';
import { out } from '../print.js';
import { untilSignal } from './worker.js';
import { connectClient } from '../session.js';

/** Flags of both commands. */
interface DashboardFlags extends ConnectionFlags {
  host: string;
  port: string;
  tokens?: string;
  logFormat: LogFormat;
}

/** Flags of `taskwire dev`. */
interface DevFlags extends DashboardFlags {
  start?: boolean;
  input?: string[];
  inputs?: string;
}

/** How often an embedded dashboard reads a streamed run's history for the entries of other processes. */
const TAIL_MS = 1000;

function serverOptions(command: Command): Command {
  return command
    .addOption(new Option('--host <host>', 'interface to listen on (serve beyond localhost only behind TLS)').env('TASKWIRE_DASHBOARD_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'port (0: any free port)').env('TASKWIRE_DASHBOARD_PORT').default('7777'))
    .addOption(new Option('--tokens <file>', 'JSON list of { token, name, role: viewer|operator } (default: TASKWIRE_DASHBOARD_TOKEN, TASKWIRE_DASHBOARD_VIEWER_TOKEN, else one generated)').env('TASKWIRE_DASHBOARD_TOKENS'))
    .addOption(storeOption())
    .addOption(logFormatOption());
}

/** The configured tokens, or a generated operator token (then shown in the URL printed). */
function tokensOf(flags: DashboardFlags): { tokens: DashboardToken[]; generated?: DashboardToken } {
  const tokens = flags.tokens === undefined ? environmentTokens() : readTokensFile(flags.tokens);
  if (tokens.length > 0) return { tokens };
  const generated = generateToken();
  return { tokens: [generated], generated };
}

/** Serves the dashboard for `client` until a signal, then calls `close`. */
async function serve(flags: DashboardFlags, parts: Pick<DashboardDeps, 'client' | 'store' | 'transport' | 'queues' | 'tailMs'>, role: string, close: () => Promise<void>): Promise<void> {
  const logger = createLogger({ base: { role }, format: flags.logFormat });
  const port = parseInteger(flags.port, '--port', 0, 65_535);
  const { tokens, generated } = tokensOf(flags);
  const secrets = [flags.store, flags.broker].filter((url): url is string => url !== undefined && url !== '');
  const assets = packageAssets({ onBuildError: (error) => logger.warn({ error: (error as Error).message }, 'cannot build the page from the sources: serving a placeholder (npm run build)') });
  let server;
  try {
    server = await startDashboard({ ...parts, secrets, assets, tokens: new TokenTable(tokens), host: flags.host, port });
  } catch (error) {
    await close();
    throw error;
  }
  // The page assets are built (or read) now, not at the first request.
  void assets();
  out(`dashboard: ${server.url}/${generated === undefined ? '' : `#token=${generated.token}`}`);
  const opened = server;
  await untilSignal(logger, async () => {
    await opened.close();
    await close();
  });
}

/** Registers `dashboard` and `dev`. */
export function dashboardCommands(program: Command): void {
  serverOptions(program.command('dashboard').description('serve the web dashboard on a store: runs, live graphs, history, rewiring, workers (docs/dashboard.md)'))
    .addOption(brokerOption())
    .addOption(prefixOption())
    .addOption(schemaOption())
    .action(async (flags: DashboardFlags) => {
      const options = connectionOptions(flags);
      const distributed = options.broker !== undefined;
      const { client, store } = await connectClient(flags);
      const queues = options.broker === undefined ? undefined : new AmqpQueues(options.broker, { shards: store.shards, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
      // Embedded, another process (serve) hosts the runs: its entries are read from the store.
      const carried = queues === undefined ? { tailMs: TAIL_MS } : { queues };
      await serve(flags, { client, store, transport: distributed ? 'amqp' : 'inprocess', ...carried }, 'dashboard', async () => {
        await queues?.close();
        await client.close();
      });
    });

  serverOptions(program.command('dev').description('local development: an embedded SQLite store, a worker and coordinator for the tasks of <file>, and the dashboard'))
    .argument('<file>', 'module exporting tasks, or a flow file (default export a Flow)')
    .option('--start', 'start one run of the flow the file exports by default')
    .option('--input <key=value>', 'a flow input for --start (repeatable; values parsed as JSON when they are)', collect)
    .option('--inputs <json>', 'flow inputs for --start as a JSON object')
    .action(async (file: string, flags: DevFlags) => {
      const loaded = flags.start === true ? await loadFlow(file) : undefined;
      const tasks = loaded?.tasks ?? (await loadTasks(file));
      // The conditions its flows' links name, for the runs it resumes.
      const conditions = await loadConditions(file, false);
      const store = await openStore(flags.store, { distributed: false });
      let client: Client;
      try {
        client = await connect({ store, tasks, conditions, resume: true });
      } catch (error) {
        await store.close();
        throw error;
      }
      // Embedded, nothing else holds the event loop open while no run has work.
      const alive = setInterval(() => undefined, 1 << 30);
      if (loaded !== undefined) {
        const run = await client.start(loaded.flow, { ...loaded.inputs, ...parseInputs(flags.input, flags.inputs) });
        out(`started run ${run.id} of flow ${loaded.flow.name}`);
      }
      await serve(flags, { client, store, transport: 'inprocess', tailMs: TAIL_MS }, 'dev', async () => {
        await client.close();
        clearInterval(alive);
      });
    });
}
