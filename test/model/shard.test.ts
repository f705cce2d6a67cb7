/** The shard of a run: stable, in range, spread evenly. */
import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../src/model/hash.js';
import { shardOf } from '../../src/model/shard.js';

describe('shardOf', () => {
  it('is FNV-1a of the run id modulo the shard count (stable across versions: deployments depend on it)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(shardOf('run-1', 16)).toBe(fnv1a32('run-1') % 16);
  });

  it('is 0 with one shard', () => {
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('spreads run ids evenly', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(`r${i.toString(36)}-${i}`, 16)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });
});
