/**
 * Keeping credentials out of logs and error messages, for every connection
 * string taskwire prints (RabbitMQ and PostgreSQL URLs, libpq key/value strings).
 *
 * A URL's credentials are everything between `scheme://` and the last `@` of
 * the string, whatever they hold: an unencoded `@`, `/`, `:`, `#` or `?` in a
 * password breaks URL parsers (`new URL` would take part of the password for
 * the host, the path or the fragment), so no parser is used to find them.
 *
 * @packageDocumentation
 */

/** What replaces a secret. */
export const MASK = '***';

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const SECRET_PARAM = /([?&;\s]|^)(password|sslpassword|pass|passwd|secret|token)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]*)/gi;

/** The user info of a URL (between `scheme://` and the last `@`), and where it starts and ends. */
function userInfo(url: string): { start: number; end: number; text: string } | undefined {
  const scheme = SCHEME.exec(url);
  if (scheme === null) return undefined;
  const start = scheme[0].length;
  const end = url.lastIndexOf('@');
  if (end < start) return undefined;
  return { start, end, text: url.slice(start, end) };
}

/**
 * A connection string with its secrets masked, safe to print:
 * `amqp://user:Sp@c/al:Pw#@host:5672` → `amqp://user:***@host:5672`. The user
 * name is kept when it is plain (no `@`); a URL whose user info holds no `:` has
 * no password and is kept. `password=` (and `pass`, `secret`, `token`)
 * parameters, in a query string or a libpq key/value string, are masked too.
 */
export function redactUrl(url: string): string {
  let out = url;
  const info = userInfo(url);
  if (info !== undefined) {
    const colon = info.text.indexOf(':');
    const user = colon < 0 ? info.text : info.text.slice(0, colon);
    const masked = colon < 0 && !user.includes('@') ? info.text : user.includes('@') ? MASK : `${user}:${MASK}`;
    out = `${url.slice(0, info.start)}${masked}${url.slice(info.end)}`;
  }
  return out.replace(SECRET_PARAM, `$1$2$3${MASK}`);
}

/** The secrets of a connection string: its password (as written and decoded) and the values of password parameters. */
function secretsOf(url: string): string[] {
  const secrets = new Set<string>();
  const info = userInfo(url);
  const colon = info?.text.indexOf(':') ?? -1;
  if (info !== undefined && colon >= 0) {
    const raw = info.text.slice(colon + 1);
    secrets.add(raw);
    try {
      secrets.add(decodeURIComponent(raw));
    } catch {
      // not valid percent-encoding: the raw form is all there is
    }
  }
  for (const match of url.matchAll(SECRET_PARAM)) secrets.add((match[4] ?? '').replace(/^'|'$/g, ''));
  for (const secret of [...secrets]) secrets.add(encodeURIComponent(secret));
  secrets.delete('');
  // Longest first, so that a secret containing another is masked whole.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/**
 * `text` (an error message from a driver, for instance) with every copy of
 * `url` redacted and every occurrence of its secrets (raw, decoded or
 * percent-encoded) masked.
 */
export function scrubSecrets(text: string, url: string | undefined): string {
  if (url === undefined || url === '') return text;
  let out = text.split(url).join(redactUrl(url));
  for (const secret of secretsOf(url)) out = out.split(secret).join(MASK);
  return out;
}
