/**
 * Keeping credentials out of error messages and logs.
 *
 * @packageDocumentation
 */

const MASK = '***';

/**
 * A connection string with its password masked, safe to print: the password of
 * a URL (`postgres://user:secret@host/db` → `postgres://user:***@host/db`) and
 * any `password=` parameter (in the query string or a libpq key/value string)
 * become `***`. Strings that cannot be parsed are masked by pattern, never
 * returned unchanged when they look like they hold a password.
 */
export function redactUrl(url: string): string {
  let out = url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = MASK;
    for (const key of [...parsed.searchParams.keys()]) {
      if (/^(password|sslpassword|pass)$/i.test(key)) parsed.searchParams.set(key, MASK);
    }
    out = parsed.toString();
  } catch {
    // not a URL: a key/value string, or a malformed URL; mask by pattern below
  }
  return out
    .replace(/(\/\/[^/@:?#\s]*:)[^/\s]*@/g, `$1${MASK}@`)
    .replace(/\b(password|sslpassword|pass)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)/gi, `$1=${MASK}`);
}

/** `text` with every occurrence of the password of `url` masked (for messages of errors raised while connecting). */
export function redactSecret(text: string, url: string | undefined): string {
  if (url === undefined) return text;
  let out = text.split(url).join(redactUrl(url));
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    password = /\bpassword\s*=\s*'?([^'\s&]+)/i.exec(url)?.[1] ?? '';
  }
  if (password.length > 0) out = out.split(password).join(MASK);
  return out;
}
