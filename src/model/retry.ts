/**
 * Retry policies and backoff.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { RetryPolicy } from './definition.js';
import { checkKeys, optionKeys } from './options.js';
import { fnv1a32 } from './hash.js';

/** The retry policy used when a task sets none: no retries. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  limit: 0,
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
});

const RETRY_KEYS = optionKeys<RetryPolicy>({ limit: true, initialDelayMs: true, factor: true, maxDelayMs: true, jitter: true });

/** What a task spec may give: a number (the limit) or part of a policy. */
export type RetryOption = number | Partial<RetryPolicy>;

/** Resolves a user's retry option against {@link DEFAULT_RETRY}, checking every field (unknown ones are refused). */
export function resolveRetry(option: RetryOption | undefined, owner: string): RetryPolicy {
  if (typeof option === 'object') checkKeys(option, RETRY_KEYS, owner, 'retry option');
  const given = typeof option === 'number' ? { limit: option } : (option ?? {});
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...given };
  checkNumber(policy.limit, `${owner}: retry.limit`, 0, true);
  checkNumber(policy.initialDelayMs, `${owner}: retry.initialDelayMs`, 0, false);
  checkNumber(policy.factor, `${owner}: retry.factor`, 1, false);
  checkNumber(policy.maxDelayMs, `${owner}: retry.maxDelayMs`, 0, false);
  checkNumber(policy.jitter, `${owner}: retry.jitter`, 0, false);
  if (policy.jitter > 1) throw new ConfigError(`${owner}: retry.jitter expected a number from 0 to 1, got ${policy.jitter}`);
  return policy;
}

function checkNumber(value: unknown, what: string, min: number, integer: boolean): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && (!integer || Number.isInteger(value));
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number';
    throw new ConfigError(`${what} expected ${kind} from ${min} and up, got ${String(value)} (${typeof value})`);
  }
}

/**
 * Delay before retry number `retry` (1 = first retry): exponential, capped, with a
 * jitter that is a deterministic function of `seed` so the engine stays pure.
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, seed: string): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (retry - 1));
  const spread = base * policy.jitter;
  return Math.round(base - spread * unitHash(seed));
}

/** FNV-1a hash of a string mapped to [0, 1). */
function unitHash(text: string): number {
  return fnv1a32(text) / 0x1_0000_0000;
}
