/**
 * A logger that keeps every line in an array, for tests that assert on what
 * taskwire logs (warnings, refused messages, redacted credentials).
 */
import type { LogFields, Logger } from '../../src/observability/logger.js';

/** One captured log line. */
export interface Line {
  level: string;
  fields: LogFields;
  message: string;
}

/** A logger (and all its children) that pushes every line onto `lines`. */
export function captureLogger(lines: Line[]): Logger {
  const at = (level: string) => (fields: LogFields, message: string) => void lines.push({ level, fields, message });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
