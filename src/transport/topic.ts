/**
 * AMQP topic matching (`*` matches one word, `#` zero or more), shared by the
 * in-process transport so that patterns behave as on RabbitMQ.
 *
 * @packageDocumentation
 */

/** A topic pattern prepared once, for matching many routing keys given as their words. */
export type TopicMatcher = (words: readonly string[]) => boolean;

/** Prepares a topic pattern for matching. */
export function topicMatcher(pattern: string): TopicMatcher {
  if (pattern === '#') return () => true;
  const parts = pattern.split('.');
  return (words) => match(parts, 0, words, 0);
}

function match(pattern: readonly string[], p: number, words: readonly string[], w: number): boolean {
  if (p === pattern.length) return w === words.length;
  const part = pattern[p];
  if (part === '#') {
    for (let skip = w; skip <= words.length; skip++) if (match(pattern, p + 1, words, skip)) return true;
    return false;
  }
  if (w === words.length) return false;
  return (part === '*' || part === words[w]) && match(pattern, p + 1, words, w + 1);
}
