/**
 * Shared pieces of the fuzzing suite: the budget, the one property every
 * target must hold (a `TaskwireError` with a code, or success), hostile
 * arbitraries, and a tally printed in long mode for docs/security.md.
 *
 * CI runs {@link RUNS} inputs per target from a fixed seed (the same inputs
 * every time: CI is deterministic); long mode draws a random seed. Long mode:
 * `TASKWIRE_FUZZ_RUNS=100000 npx vitest run test/fuzz` (a seed to replay a
 * failure is printed by fast-check: `TASKWIRE_FUZZ_SEED=<seed>`).
 */
import fc from 'fast-check';
import { afterAll, vi } from 'vitest';

/** Inputs per target. */
export const RUNS = Number(process.env['TASKWIRE_FUZZ_RUNS'] ?? 300);

/** Whether this is a long run (its figures are printed). */
export const LONG = RUNS >= 10_000;

// A long run takes minutes per target: no test timeout then.
if (LONG) vi.setConfig({ testTimeout: 0 });

/** The seed of the short (CI) budget. */
const CI_SEED = '20261130';

/** fast-check parameters of every target. */
export function params(runs = RUNS): fc.Parameters<unknown> {
  const seed = process.env['TASKWIRE_FUZZ_SEED'] ?? (LONG ? undefined : CI_SEED);
  return { numRuns: runs, ...(seed === undefined ? {} : { seed: Number(seed) }) };
}

/** Outcomes per target: accepted, or refused with a code. */
const tallies = new Map<string, Map<string, number>>();

afterAll(() => {
  if (!LONG) return;
  for (const [target, tally] of tallies) {
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    const parts = [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
    console.log(`fuzz ${target}: ${total} inputs: ${parts.join(', ')}`);
  }
});

function count(target: string, outcome: string): void {
  let tally = tallies.get(target);
  if (tally === undefined) tallies.set(target, (tally = new Map()));
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
}

/** Fails unless `error` is a TaskwireError (a `TW_*` code); records the code. */
export function expectCoded(target: string, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('TW_')) {
    throw new Error(`${target}: expected a TaskwireError with a code, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
  count(target, code);
}

/** Runs `fn`: success is recorded as `ok`, a throw must be a coded TaskwireError. */
export function outcome<T>(target: string, fn: () => T): T | undefined {
  try {
    const value = fn();
    count(target, 'ok');
    return value;
  } catch (error) {
    expectCoded(target, error);
    return undefined;
  }
}

/** Async {@link outcome}. */
export async function outcomeAsync<T>(target: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await fn();
    count(target, 'ok');
    return value;
  } catch (error) {
    expectCoded(target, error);
    return undefined;
  }
}

/** Records a non-exception outcome (e.g. `dead-lettered`). */
export function record(target: string, what: string): void {
  count(target, what);
}

/** Names, mostly valid, some hostile. */
export const nameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', 'add', 'mult', 'x', 'y', 'default', 'ev') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '', ' ', 'a\u0000b', 'a.b', '-x', 'é', 'x'.repeat(101), '$run', '#', '*') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** JSON values with hostile keys and deep nesting mixed in. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(JSON.parse('{"__proto__": {"polluted": true}}'), { constructor: { prototype: { polluted: true } } }, { $tw: 'date', v: 'nope' }, { $tw: 'bigint', v: '12' }, { $tw: 'bytes', v: 'AAE=' }, { $tw: 'object', v: { $tw: 1 } }) },
  { weight: 1, arbitrary: fc.integer({ min: 90, max: 400 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown) },
);

/** `base` with some fields replaced by hostile values, some removed, some added. */
export function mutated(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(base);
  return fc
    .tuple(
      fc.dictionary(fc.constantFrom(...keys), fc.oneof(hostileJson, nameArb), { maxKeys: 3 }),
      fc.subarray(keys, { maxLength: 2 }),
      fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'extra'), fc.string({ maxLength: 5 })), hostileJson, { maxKeys: 2 }),
    )
    .map(([replaced, removed, added]) => {
      const out: Record<string, unknown> = { ...base };
      for (const [k, v] of Object.entries(replaced)) out[k] = v;
      for (const k of removed) delete out[k];
      for (const [k, v] of Object.entries(added)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    });
}
