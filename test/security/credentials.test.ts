/**
 * Credentials with hostile passwords (issue 10, point 4): whatever a password
 * holds (`@`, `/`, `:`, `#`, `?`, `%`, spaces, quotes, non-ASCII), a redacted
 * URL shows none of it, and errors carrying it are scrubbed.
 */
import { describe, expect, it } from 'vitest';
import { redactSecret, redactUrl } from '../../src/store/postgres/redact.js';
import { redactAmqpUrl, scrubSecrets } from '../../src/transport/amqp/redact.js';

const HOSTILE = ['Sp@c/al:Pw#1!', 'p@ss@word', 'a/b?c#d', 'x@y:z/w?q=1#f', 'with space', "quo'te\"s", 'ünïcødé', '%40%2F', 'pw@127.0.0.1:5672', 'end@'];

describe.each([
  ['redactUrl (PostgreSQL)', redactUrl],
  ['redactAmqpUrl', redactAmqpUrl],
])('%s', (_name, redact) => {
  it.each(HOSTILE)('masks everything between the scheme and the last "@" of the authority: %j', (password) => {
    expect(redact(`amqp://user:${password}@127.0.0.1:5672/vhost`)).toBe('amqp://user:***@127.0.0.1:5672/vhost');
    expect(redact(`postgres://user:${password}@db.example:5432/app?sslmode=require`)).toBe('postgres://user:***@db.example:5432/app?sslmode=require');
    expect(redact(`amqps://user:${encodeURIComponent(password)}@host`)).toBe('amqps://user:***@host');
  });

  it('leaves URLs without a password as they are', () => {
    expect(redact('amqp://127.0.0.1:5672')).toBe('amqp://127.0.0.1:5672');
    expect(redact('postgres://user@host/db')).toBe('postgres://user@host/db');
  });
});

describe('scrubbing error messages', () => {
  it.each(HOSTILE)('removes the password %j, raw or encoded, from free text', (password) => {
    for (const url of [`amqp://user:${password}@127.0.0.1:5672`, `amqp://user:${encodeURIComponent(password)}@127.0.0.1:5672`]) {
      const text = `failed: ${url} (auth ${password}, ${encodeURIComponent(password)})`;
      for (const scrubbed of [scrubSecrets(text, url), redactSecret(text, url)]) {
        expect(scrubbed).not.toContain(password);
        expect(scrubbed).not.toContain(encodeURIComponent(password));
        expect(scrubbed).toContain('amqp://user:***@127.0.0.1:5672');
      }
    }
  });
});
