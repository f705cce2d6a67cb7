/**
 * Publishes bounded by a timeout, and batches of dispatches that one bad
 * message cannot hold back (shared by the step's publish and the outbox poller).
 *
 * @packageDocumentation
 */
import { TransportError } from '../errors.js';
import type { DispatchMessage, Transport } from '../transport/port.js';
import type { Clock } from './clock.js';

/** Default of `CoordinatorOptions.publishTimeoutMs`. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

/**
 * `promise`, or an error once `timeoutMs` have passed on `clock` without it
 * settling: a {@link TransportError} (`<what> not confirmed within …`) unless
 * `timedOut` makes another.
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string, clock: Clock, timedOut?: () => Error): Promise<T> {
  let timer: unknown;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(timedOut?.() ?? new TransportError(`${what} not confirmed within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** A message that could not be published, with why. */
export interface Unpublished<T> {
  /** The message. */
  message: T;
  /** Why. */
  error: unknown;
}

/**
 * Publishes dispatches in one batch; if that fails, one by one, so that one bad
 * message holds back no other. Resolves with the indexes of the published ones
 * and the others with their errors.
 */
export async function publishDispatches(transport: Transport, messages: DispatchMessage[], timeoutMs: number, clock: Clock): Promise<{ published: number[]; failed: Unpublished<DispatchMessage>[] }> {
  const all = messages.map((_, i) => i);
  if (messages.length === 0) return { published: [], failed: [] };
  try {
    // An in-process publish waits for no confirm: no timer for it (one per batch on the embedded hot path).
    const publish = transport.dispatch(messages);
    await (transport.durable ? withTimeout(publish, timeoutMs, `publish of ${messages.length} dispatches`, clock) : publish);
    return { published: all, failed: [] };
  } catch (error) {
    if (messages.length === 1) return { published: [], failed: [{ message: messages[0] as DispatchMessage, error }] };
  }
  const outcomes = await Promise.allSettled(messages.map((message) => withTimeout(transport.dispatch([message]), timeoutMs, `publish of the dispatch of node "${message.node}"`, clock)));
  const published: number[] = [];
  const failed: Unpublished<DispatchMessage>[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') published.push(i);
    else failed.push({ message: messages[i] as DispatchMessage, error: outcome.reason });
  });
  return { published, failed };
}
