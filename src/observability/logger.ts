/**
 * The logger port. The library never writes to the console: it logs through a
 * {@link Logger} given by the user (pino's API fits), or through {@link silentLogger}.
 *
 * @packageDocumentation
 */

/** Structured fields of a log line: run id, node id, attempt, task name, ... */
export type LogFields = Record<string, unknown>;

/** A structured logger; pino's `Logger` satisfies this interface. */
export interface Logger {
  /** Debug detail. */
  debug(fields: LogFields, message: string): void;
  /** Normal operation. */
  info(fields: LogFields, message: string): void;
  /** Something unexpected that taskwire handled. */
  warn(fields: LogFields, message: string): void;
  /** Something failed. */
  error(fields: LogFields, message: string): void;
  /** A logger with fields bound to every line. */
  child(fields: LogFields): Logger;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
