/**
 * Keeps AMQP credentials out of logs and errors.
 *
 * @packageDocumentation
 */

const MASK = '***';

/**
 * Returns `url` with its password replaced by `***`:
 * `amqp://guest:guest@host:5672/vhost` → `amqp://guest:***@host:5672/vhost`.
 * A URL that cannot be parsed is masked from its scheme to its last `@`, so a
 * malformed URL never leaks a password either. Use it in every log line and
 * error that mentions the broker's URL.
 */
export function redactAmqpUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = MASK;
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token/i.test(key)) parsed.searchParams.set(key, MASK);
    }
    return parsed.toString();
  } catch {
    const at = url.lastIndexOf('@');
    const scheme = url.indexOf('://');
    if (at < 0) return url.replace(/(pass\w*=)[^&]*/gi, `$1${MASK}`);
    return `${scheme >= 0 ? url.slice(0, scheme + 3) : ''}${MASK}${url.slice(at)}`;
  }
}

/** The password of `url` (decoded), if any. */
function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}

/**
 * Removes the URL's password from a free text (an error message from the
 * client library, for instance), and any copy of the URL itself.
 */
export function scrubSecrets(text: string, url: string): string {
  let out = text.split(url).join(redactAmqpUrl(url));
  const password = passwordOf(url);
  if (password !== undefined && password.length > 0) {
    out = out.split(password).join(MASK);
    const encoded = encodeURIComponent(password);
    if (encoded !== password) out = out.split(encoded).join(MASK);
  }
  return out;
}

/** The message of `error`, scrubbed of the URL's credentials. */
export function describeError(error: unknown, url: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return scrubSecrets(message, url);
}
