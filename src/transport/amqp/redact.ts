/**
 * Keeps AMQP credentials out of logs and errors (see
 * `observability/credentials.ts`, shared with the PostgreSQL store).
 *
 * @packageDocumentation
 */
import { redactUrl, scrubSecrets } from '../../observability/credentials.js';

/**
 * Returns `url` with its password replaced by `***`:
 * `amqp://guest:guest@host:5672/vhost` → `amqp://guest:***@host:5672/vhost`,
 * whatever the password holds (everything between the scheme and the last `@`
 * is credentials). Use it in every log line and error that mentions the
 * broker's URL.
 */
export function redactAmqpUrl(url: string): string {
  return redactUrl(url);
}

export { scrubSecrets };

/** The message of `error`, scrubbed of the URL's credentials. */
export function describeError(error: unknown, url: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return scrubSecrets(message, url);
}
