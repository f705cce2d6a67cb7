/**
 * AMQP topic matching (`*` matches one word, `#` zero or more), shared by the
 * in-process transport so that patterns behave as on RabbitMQ.
 *
 * @packageDocumentation
 */

/** Whether a routing key matches a topic pattern. */
export function topicMatches(pattern: string, key: string): boolean {
  return match(pattern.split('.'), 0, key.split('.'), 0);
}

function match(pattern: string[], p: number, words: string[], w: number): boolean {
  if (p === pattern.length) return w === words.length;
  const part = pattern[p];
  if (part === '#') {
    for (let skip = w; skip <= words.length; skip++) if (match(pattern, p + 1, words, skip)) return true;
    return false;
  }
  if (w === words.length) return false;
  return (part === '*' || part === words[w]) && match(pattern, p + 1, words, w + 1);
}
