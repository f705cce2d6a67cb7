/**
 * Validation of the schema name the PostgreSQL store lives in.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../../errors.js';

/** The schema used when none is given. */
export const DEFAULT_SCHEMA = 'taskwire';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema name (lower case letters, digits and `_`, not starting with a
 * digit, at most 63 characters) and returns it double-quoted, ready to be put
 * in SQL text. Throws a {@link ConfigError} otherwise.
 */
export function quoteSchema(schema: unknown): string {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
    throw new ConfigError(
      `invalid PostgreSQL schema name ${JSON.stringify(schema)}: expected lower case letters, digits and "_", starting with a letter or "_", at most 63 characters`,
    );
  }
  return `"${schema}"`;
}
