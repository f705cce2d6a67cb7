/**
 * Unknown option fields are refused, naming the key and suggesting the right
 * one: a misspelt option silently falling back to its default is a bug that
 * shows only at run time (a `retry: { delayMs: 1 }` waiting 1,000 ms).
 */
import { describe, expect, it } from 'vitest';
import { connect, event, flow, task, type ConnectOptions, type FlowOptions, type NodeOptions, type RetryOption, type TaskSpec } from '../../src/index.js';

const apply = (): number => 1;

/** The ConfigError `fn` throws (or rejects with). */
async function refusal(fn: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

// Options as they arrive from JavaScript or JSON: no compiler to catch the typo.
const loose = <T>(value: object): T => value as T;

describe('unknown option fields', () => {
  it('refuses an unknown retry field, suggesting the right one', async () => {
    const error = await refusal(() => task('o-retry', { apply, retry: loose<RetryOption>({ limit: 2, delayMs: 1 }) }));
    expect(error.code).toBe('TW_CONFIG');
    expect(error.message).toContain('task "o-retry": unknown retry option "delayMs"');
    expect(error.message).toContain('did you mean "initialDelayMs"');
    const attempts = await refusal(() => task('o-retry2', { apply, retry: loose<RetryOption>({ attempts: 3 }) }));
    expect(attempts.message).toContain('unknown retry option "attempts"; did you mean "limit"?');
  });

  it('refuses an unknown task field, suggesting the right one', async () => {
    const error = await refusal(() => task('o-task', loose<TaskSpec<Record<string, unknown>, number>>({ apply, timeout: 50 })));
    expect(error.code).toBe('TW_CONFIG');
    expect(error.message).toBe('task "o-task": unknown option "timeout"; did you mean "timeoutMs"?');
    const requires = await refusal(() => task('o-task2', loose<TaskSpec<Record<string, unknown>, number>>({ apply, require: ['x'] })));
    expect(requires.message).toContain('did you mean "requires"?');
  });

  it('refuses an unknown node field, and an unknown retry field of a node', async () => {
    const t = task('o-node', { apply });
    const error = await refusal(() => t.s({}, loose<NodeOptions>({ persist: true })));
    expect(error.message).toBe('node "o-node": unknown option "persist"; did you mean "persistent"?');
    const retry = await refusal(() => t.s({}, { retry: loose<RetryOption>({ maxDelay: 5 }) }));
    expect(retry.message).toContain('node "o-node": unknown retry option "maxDelay"; did you mean "maxDelayMs"?');
  });

  it('refuses an unknown flow, link or event field', async () => {
    expect((await refusal(() => flow('o-flow', loose<FlowOptions>({ onFail: 'rollback' })))).message).toBe('flow "o-flow": unknown option "onFail"; did you mean "onFailure"?');
    const t = task('o-link', { apply });
    const link = await refusal(() => flow('o-flow').link(t.s(), t.s({}, { id: 'b' }), loose<{ map: Record<string, string> }>({ mapping: {} })));
    expect(link.message).toContain('unknown option "mapping"; did you mean "map"?');
    expect((await refusal(() => event('o-event', loose<{ provides: string[] }>({ provide: ['ip'] })))).message).toContain('unknown option "provide"; did you mean "provides"?');
  });

  it('names the unknown key without a suggestion when nothing is close', async () => {
    const error = await refusal(() => task('o-far', loose<TaskSpec<Record<string, unknown>, number>>({ apply, colour: 'blue' })));
    expect(error.message).toMatch(/^task "o-far": unknown option "colour" \(known: requires, optional, provides, apply, rollback, retry, timeoutMs, queue, limit, rate\)$/);
  });

  it('refuses an unknown connect option before opening anything', async () => {
    const error = await refusal(() => connect(loose<ConnectOptions>({ store: 'memory', concurency: 2 })));
    expect(error.code).toBe('TW_CONFIG');
    expect(error.message).toBe('connect: unknown option "concurency"; did you mean "concurrency"?');
  });
});
