/**
 * Keeping PostgreSQL credentials out of error messages and logs (see
 * `observability/credentials.ts`, shared with the AMQP transport).
 *
 * @packageDocumentation
 */
import { scrubSecrets } from '../../observability/credentials.js';

/**
 * `redactUrl(url)`: a connection string with its password masked, safe to print
 * (`postgres://user:secret@host/db` → `postgres://user:***@host/db`, whatever
 * the password holds); `password=` parameters become `***` too.
 */
export { redactUrl } from '../../observability/credentials.js';

/** `text` with every occurrence of the password of `url` masked (for messages of errors raised while connecting). */
export function redactSecret(text: string, url: string | undefined): string {
  return scrubSecrets(text, url);
}
