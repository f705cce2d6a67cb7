/**
 * The CLI's logger: pino on standard error, JSON lines or lines for people
 * (`format`), secrets redacted. (The library itself never creates a logger; it
 * takes one.)
 *
 * @packageDocumentation
 */
import { pino, type DestinationStream } from 'pino';
import type { Logger } from './logger.js';
import { prettyDestination } from './pretty-lines.js';

/** How log lines are written: JSON lines, or lines for people at a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /**
   * Minimum level.
   * @default "info" (or `TASKWIRE_LOG_LEVEL`)
   */
  level?: string;
  /** Extra field paths to redact (pino paths such as `inputs.password`). */
  redact?: string[];
  /** Fields on every line (`{ role: 'worker' }`). */
  base?: Record<string, unknown>;
  /** Where lines go. @default standard error */
  destination?: DestinationStream;
  /**
   * `pretty`: lines for people (pretty-lines.ts) instead of JSON lines.
   * @default "json"
   */
  format?: LogFormat;
}

/** Field paths always redacted: connection URLs carry credentials. */
export const REDACTED_PATHS = ['url', 'broker', 'store', 'brokerUrl', 'storeUrl', 'password', '*.password', 'authorization', '*.url'];

/** A pino logger writing JSON lines (or, with `format: 'pretty'`, lines for people) to standard error. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['TASKWIRE_LOG_LEVEL'] ?? 'info',
      redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
      base: { pid: process.pid, ...(options.base ?? {}) },
    },
    destinationOf(options),
  );
}

function destinationOf({ destination, format }: CreateLoggerOptions): DestinationStream {
  if (format === 'pretty') return prettyDestination(destination === undefined ? undefined : (text) => destination.write(text));
  return destination ?? pino.destination({ fd: 2, sync: false });
}
