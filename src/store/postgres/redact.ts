/**
 * Keeping PostgreSQL credentials out of error messages and logs (see
 * `observability/credentials.ts`, shared with the AMQP transport).
 *
 * @packageDocumentation
 */
import { redactUrl as redact, scrubSecrets } from '../../observability/credentials.js';

/**
 * A connection string with its password masked, safe to print:
 * `postgres://user:secret@host/db` → `postgres://user:***@host/db`, whatever the
 * password holds (an unencoded `@`, `/`, `#`...); `password=` parameters (in the
 * query string or a libpq key/value string) become `***` too.
 */
export function redactUrl(url: string): string {
  return redact(url);
}

/** `text` with every occurrence of the password of `url` masked (for messages of errors raised while connecting). */
export function redactSecret(text: string, url: string | undefined): string {
  return scrubSecrets(text, url);
}
