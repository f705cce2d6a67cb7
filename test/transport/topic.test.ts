import { describe, expect, it } from 'vitest';
import { topicMatcher } from '../../src/transport/topic.js';

describe('topic matching (as RabbitMQ)', () => {
  it.each([
    ['run.r1.#', 'run.r1.a.node.succeeded', true],
    ['run.r1.#', 'run.r1', true],
    ['run.r1.#', 'run.r2.a.node.succeeded', false],
    ['run.*.$run.#', 'run.r1.$run.run.status', true],
    ['run.*.$run.#', 'run.r1.a.node.queued', false],
    ['#', 'anything.at.all', true],
    ['#.status', 'run.r1.$run.run.status', true],
    ['run.*', 'run.r1.a', false],
    ['run.*.a.*.*', 'run.r1.a.node.queued', true],
  ])('%s matches %s: %s', (pattern, key, expected) => {
    expect(topicMatcher(pattern)(key.split('.'))).toBe(expected);
  });
});
