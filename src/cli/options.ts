/**
 * CLI configuration: flags, then `TASKWIRE_*` environment variables, then
 * defaults, in one place. `--help` shows each variable and default.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
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
