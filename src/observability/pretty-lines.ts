/**
 * Log lines for people at a terminal (`--log-format pretty`): each JSON line of
 * pino turned into `12:04:05.123 INFO  worker started queues=["deploy"]`, an
 * error's stack on the lines below. Small on purpose: the CLI's lines are flat
 * objects, so a formatter of a few lines does what pino-pretty would, without its
 * dependencies.
 *
 * @packageDocumentation
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Fields every line has that the pretty form shows otherwise or leaves out. */
const SHOWN = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'err']);

/** One pino JSON line as a line for people (a line that is not JSON is kept as it is). */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof entry['time'] === 'number' ? new Date(entry['time']).toISOString().slice(11, 23) : '';
  const level = (LEVELS[entry['level'] as number] ?? String(entry['level'])).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  const err = entry['err'] as { stack?: unknown; message?: unknown } | undefined;
  const stack = err === undefined ? '' : `\n  ${String(err.stack ?? err.message).split('\n').join('\n  ')}`;
  const msg = typeof entry['msg'] === 'string' || entry['msg'] === undefined ? (entry['msg'] ?? '') : JSON.stringify(entry['msg']);
  return `${[time, level, msg, ...fields].filter((part) => part !== '').join(' ')}${stack}\n`;
}

/** A pino destination writing {@link prettyLine}s to `write` (standard error by default). */
export function prettyDestination(write: (text: string) => void = (text) => void process.stderr.write(text)): DestinationStream {
  return { write: (line: string) => write(prettyLine(line)) };
}
