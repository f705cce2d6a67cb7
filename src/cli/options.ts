/**
 * CLI configuration: flags, then `TASKWIRE_*` environment variables, then
 * defaults, in one place. `--help` shows each variable and default.
 *
 * @packageDocumentation
 */
import { Option } from 'commander';
import { parseJson } from '../codec/parse.js';
import { ConfigError } from '../errors.js';
import { checkName } from '../model/names.js';

/** A connection flag with its environment variable. */
export function storeOption(): Option {
  return new Option('--store <url>', 'store: "memory", a SQLite path, or a postgres:// URL (default: .taskwire/taskwire.db)').env('TASKWIRE_STORE_URL');
}

/** The broker flag: given, the command runs distributed. */
export function brokerOption(): Option {
  return new Option('--broker <url>', 'AMQP URL of RabbitMQ; given, runs distributed').env('TASKWIRE_BROKER_URL');
}

/** AMQP name prefix. */
export function prefixOption(): Option {
  return new Option('--prefix <name>', 'prefix of AMQP exchanges and queues').env('TASKWIRE_PREFIX').default('taskwire');
}

/** PostgreSQL schema. */
export function schemaOption(): Option {
  return new Option('--schema <name>', 'PostgreSQL schema').env('TASKWIRE_SCHEMA').default('taskwire');
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
