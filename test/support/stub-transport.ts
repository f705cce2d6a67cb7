/**
 * A durable transport that carries nothing: every publish resolves, every
 * consumer is idle. Tests override the parts they watch.
 */
import type { Subscription, Transport } from '../../src/transport/port.js';

/** A durable transport whose methods do nothing, with `overrides` in their place. */
export function stubTransport(overrides: Partial<Transport> = {}): Transport {
  const idle: Subscription = { cancel: async () => undefined };
  return {
    kind: 'durable-stub',
    durable: true,
    dispatch: async () => undefined,
    signal: async () => undefined,
    abort: async () => undefined,
    announce: async () => undefined,
    consumeDispatches: async () => idle,
    consumeSignals: async () => idle,
    consumeAborts: async () => idle,
    subscribe: async () => idle,
    close: async () => undefined,
    ...overrides,
  };
}
