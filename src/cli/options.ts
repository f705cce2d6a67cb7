/**
 * CLI configuration: flags, then `TASKWIRE_*` environment variables, then
 * defaults, in one place. `--help` shows each variable and default.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';
import { parseJson } from '../codec/parse.js';
import { ConfigError } from '../errors.js';
import type { AnyCondition } from '../model/condition.js';
import { checkName } from '../model/names.js';
import { DEFAULT_METRICS_HOST } from '../observability/metrics-server.js';
import { parseDuration } from './duration.js';
import { loadConditions } from './load-flow.js';
import { ANNOUNCE_ENV } from '../transport/amqp/announce.js';

/** A connection flag with its environment variable. */
export function storeOption(): Option {
  return new Option('--store <url>', 'store: "memory", a SQLite path, or a postgres:// URL (default: .taskwire/taskwire.db)').env('TASKWIRE_STORE_URL');
}

/** The broker flag: given, the command runs distributed. */
export function brokerOption(): Option {
  return new Option('--broker <url>', 'AMQP URL of RabbitMQ; given, runs distributed').env('TASKWIRE_BROKER_URL');
}

/** The connection flags that may be read from a file instead: the flag, its file flag and variables. */
const URL_FILES = [
  { attribute: 'store', file: 'storeUrlFile', flag: '--store', fileFlag: '--store-url-file', env: 'TASKWIRE_STORE_URL', what: 'store URL or path' },
  { attribute: 'broker', file: 'brokerUrlFile', flag: '--broker', fileFlag: '--broker-url-file', env: 'TASKWIRE_BROKER_URL', what: 'AMQP URL' },
] as const;

function readUrlFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${flag} ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const value = text.trim();
  if (value === '') throw new ConfigError(`${flag} ${JSON.stringify(path)} is empty`);
  return value;
}

/**
 * Gives every command that takes `--store` or `--broker` a `--store-url-file`
 * / `--broker-url-file` flag (and `TASKWIRE_STORE_URL_FILE` /
 * `TASKWIRE_BROKER_URL_FILE`): the URL is read from the file, so that a
 * password never shows in `ps` or the shell history. A value given on the
 * command line beats one from the environment; a URL and a URL file both on
 * the command line (or both in the environment) are refused. A required
 * `--broker` or `--store` is satisfied by its file form.
 */
export function addUrlFileOptions(program: Command): void {
  for (const command of program.commands) {
    for (const spec of URL_FILES) {
      const option = command.options.find((o) => o.long === spec.flag);
      if (option === undefined) continue;
      const required = option.mandatory;
      option.mandatory = false;
      command.addOption(new Option(`${spec.fileFlag} <path>`, `read the ${spec.what} from this file (keeps secrets out of ps)`).env(`${spec.env}_FILE`));
      command.hook('preAction', (self) => {
        const direct = self.getOptionValueSource(spec.attribute);
        const path = self.getOptionValue(spec.file) as string | undefined;
        if (path !== undefined) {
          const fromFile = self.getOptionValueSource(spec.file);
          if (direct === fromFile) {
            const where = fromFile === 'env' ? `${spec.env} and ${spec.env}_FILE` : `${spec.flag} and ${spec.fileFlag}`;
            throw new ConfigError(`give either ${where}, not both`);
          }
          if (direct !== 'cli') self.setOptionValueWithSource(spec.attribute, readUrlFile(path, spec.fileFlag), fromFile ?? 'cli');
        }
        if (required && self.getOptionValue(spec.attribute) === undefined) {
          throw new ConfigError(`${spec.flag} <url> is required (or ${spec.fileFlag}, ${spec.env}, ${spec.env}_FILE)`);
        }
      });
    }
  }
}

/** AMQP name prefix. */
export function prefixOption(): Option {
  return new Option('--prefix <name>', 'prefix of AMQP exchanges and queues').env('TASKWIRE_PREFIX').default('taskwire');
}

/** PostgreSQL schema. */
export function schemaOption(): Option {
  return new Option('--schema <name>', 'PostgreSQL schema').env('TASKWIRE_SCHEMA').default('taskwire');
}

/** `--metrics-port` and `--metrics-host`, for the worker and the coordinator. */
export function metricsOptions(): Option[] {
  return [
    new Option('--metrics-port <port>', 'serve Prometheus metrics on this port (0: any free port)').env('TASKWIRE_METRICS_PORT'),
    new Option('--metrics-host <host>', 'interface the metrics endpoint listens on (it has no authentication)').env('TASKWIRE_METRICS_HOST').default(DEFAULT_METRICS_HOST),
  ];
}

/** Metrics flags as parsed by commander. */
export interface MetricsFlags {
  metricsPort?: string;
  metricsHost?: string;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Where to serve metrics, checked; `undefined` when no port is given. Throws ConfigError on a bad port or host. */
export function metricsAddress(flags: MetricsFlags): { port: number; host: string } | undefined {
  if (flags.metricsPort === undefined) return undefined;
  const port = parseInteger(flags.metricsPort, '--metrics-port', 0, 65_535);
  const host = flags.metricsHost ?? DEFAULT_METRICS_HOST;
  if (isIP(host) === 0 && !HOST.test(host)) throw new ConfigError(`--metrics-host expected an IP address or a host name, got ${JSON.stringify(host)}`);
  return { port, host };
}

/** Parses an integer flag within `[min, max]`; throws ConfigError naming the flag otherwise. */
export function parseInteger(text: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `from ${min} and up` : `from ${min} to ${max}`;
    throw new ConfigError(`${what} expected an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * `--announce <mode>` for the processes that coordinate (`worker`, `coordinator`):
 * which history entries they announce on the topic exchange (docs/amqp.md).
 */
export function announceOption(): Option {
  return new Option('--announce <mode>', 'history entries announced on the topic exchange: outcomes, or all (node.started too: live progress shows running nodes)')
    .env(ANNOUNCE_ENV)
    .choices(['outcomes', 'all'])
    .default('outcomes');
}

/** `--log-format <format>` for the long-running commands: lines for people on a terminal, JSON lines otherwise. */
export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines: pretty (for people) or json (for log collectors)')
    .env('TASKWIRE_LOG_FORMAT')
    .choices(['pretty', 'json'])
    .default(process.stderr.isTTY ? 'pretty' : 'json', 'pretty on a terminal, else json');
}

/** `--json` for read commands. */
export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts');
}

/** Connection flags as parsed by commander. */
export interface ConnectionFlags {
  store?: string;
  broker?: string;
  prefix?: string;
  schema?: string;
}

/** Connect options from connection flags. */
export function connectionOptions(flags: ConnectionFlags): { store?: string; broker?: string; prefix?: string; schema?: string } {
  const options: { store?: string; broker?: string; prefix?: string; schema?: string } = {};
  if (flags.store !== undefined) options.store = flags.store;
  if (flags.broker !== undefined && flags.broker !== '') options.broker = flags.broker;
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  if (flags.schema !== undefined) options.schema = flags.schema;
  return options;
}

/** Parses `--input k=v` pairs (values parsed as JSON when they are JSON, else strings) and `--inputs <json>`. */
export function parseInputs(pairs: string[] = [], json?: string): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseJson(json);
    } catch (error) {
      throw new ConfigError(`--inputs expected a JSON object, got ${JSON.stringify(json.slice(0, 200))}: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`--inputs expected a JSON object, got ${json.slice(0, 200)}`);
    for (const [key, value] of Object.entries(parsed)) inputs[checkName(key, '--inputs: input')] = value;
  }
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError(`--input expected key=value, got ${JSON.stringify(pair)}`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the string
    }
    inputs[checkName(pair.slice(0, at), '--input')] = value;
  }
  return inputs;
}

/** Collects a repeatable flag. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--retention <duration>` for the processes that coordinate (`worker`, `coordinator`, `serve`): automatic retention. */
export function retentionOption(): Option {
  return new Option('--retention <duration>', 'delete finished runs older than this every minute (30d, 12h, 90m; default: keep them)')
    .env('TASKWIRE_RETENTION')
    .argParser((text) => parseDuration(text, '--retention'));
}

/** The connect option of a parsed `--retention` (see {@link retentionOption}). */
export function retentionOf(flags: { retention?: number }): { retention?: { olderThanMs: number } } {
  return flags.retention === undefined ? {} : { retention: { olderThanMs: flags.retention } };
}

/** The `--conditions` flag: a module exporting the conditions a coordinator evaluates (docs/conditions.md). */
export function conditionsOption(): Option {
  return new Option('--conditions <module>', 'module exporting the conditions that links name (conditions, or flows using them); default: those of the --tasks module, if any').env('TASKWIRE_CONDITIONS');
}

/**
 * The conditions a coordinating command registers: those of `--conditions`
 * (which must export some), else those the `--tasks` module exports, if any.
 */
export async function conditionsOf(flags: { conditions?: string; tasks?: string }): Promise<AnyCondition[]> {
  if (flags.conditions !== undefined) return loadConditions(flags.conditions);
  return flags.tasks === undefined ? [] : loadConditions(flags.tasks, false);
}
