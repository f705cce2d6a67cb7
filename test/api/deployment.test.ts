/**
 * checkDeployment(): the deployment check connect() makes (and the simulator's
 * `private-stores` processes pass), apart from connecting anything.
 */
import { describe, expect, it } from 'vitest';
import { checkDeployment } from '../../src/runtime/deployment.js';

const lockless = { kind: 'sqlite' };
const shared = { kind: 'postgres', tryLock: async () => undefined };

/** The error checkDeployment throws, or undefined. */
function refusal(...args: Parameters<typeof checkDeployment>): { code?: string; message: string } | undefined {
  try {
    checkDeployment(...args);
    return undefined;
  } catch (error) {
    return error as { code?: string; message: string };
  }
}

describe('checkDeployment', () => {
  it('refuses a broker with a store only this process can see, with TW_CONFIG naming the store and where the broker came from', () => {
    const fromEnv = refusal({ distributed: true, store: lockless, brokerFromOption: false });
    expect(fromEnv?.code).toBe('TW_CONFIG');
    expect(fromEnv?.message).toMatch(/^TASKWIRE_BROKER_URL is set .* the store is sqlite, .*PostgreSQL/);
    expect(refusal({ distributed: true, store: { kind: 'memory' }, brokerFromOption: true })?.message).toMatch(/^a broker is given .* the store is memory/);
  });

  it('accepts a broker with a store every process can share (one with tryLock), and any store embedded', () => {
    expect(refusal({ distributed: true, store: shared, brokerFromOption: true })).toBeUndefined();
    expect(refusal({ distributed: false, store: lockless, brokerFromOption: false })).toBeUndefined();
  });
});
