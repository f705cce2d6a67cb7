/**
 * Rendezvous hashing: every shard has exactly one owner, the shards spread
 * fairly, and a member joining or leaving moves only the shards it wins or
 * owned.
 */
import { describe, expect, it } from 'vitest';
import { desiredShards, ownerOf } from '../../src/coordinator/rendezvous.js';
import { fnv1a32 } from '../../src/model/hash.js';

/** Member ids shaped like a coordinator's (`host:pid:random`), deterministic per `seed`. */
const members = (count: number, seed = 0): string[] =>
  Array.from({ length: count }, (_, i) => `host-${seed}-${i}:${1000 + i}:${fnv1a32(`${seed}:${i}`).toString(16)}`);

/** The owner of each shard of `0..shardCount-1`. */
const owners = (all: string[], shardCount: number): (string | undefined)[] => Array.from({ length: shardCount }, (_, s) => ownerOf(s, all));

describe('rendezvous hashing', () => {
  it('gives every shard exactly one owner, the same whatever the members order', () => {
    const all = members(5);
    const byMember = all.map((m) => desiredShards(m, all, 64));
    expect(byMember.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, s) => s));
    expect(owners([...all].reverse(), 64)).toEqual(owners(all, 64));
    for (const [i, shards] of byMember.entries()) for (const s of shards) expect(ownerOf(s, all)).toBe(all[i]);
  });

  it('has no owner without members, and counts the member asking as one', () => {
    expect(ownerOf(0, [])).toBeUndefined();
    expect(desiredShards('alone', [], 4)).toEqual([0, 1, 2, 3]);
    const all = members(3);
    expect(desiredShards(all[0]!, all.slice(1), 64)).toEqual(desiredShards(all[0]!, all, 64));
  });

  it('spreads 64 shards fairly over 3 members (each 10..33), for one deployment and over many', () => {
    const count = (all: string[]) => all.map((m) => desiredShards(m, all, 64).length);
    for (const n of count(members(3))) {
      expect(n).toBeGreaterThanOrEqual(10);
      expect(n).toBeLessThanOrEqual(33);
    }
    // Random scores leave a member outside 10..33 about 4 times in 1,000; allow 2 in 100.
    const unfair = Array.from({ length: 500 }, (_, seed) => count(members(3, seed + 1))).filter((c) => Math.min(...c) < 10 || Math.max(...c) > 33);
    expect(unfair.length).toBeLessThanOrEqual(10);
  });

  it('moves about 1/n of the shards when a member joins, all to it', () => {
    let moved = 0;
    for (let seed = 0; seed < 100; seed++) {
      const all = members(4, seed);
      const before = owners(all.slice(0, 3), 64);
      const after = owners(all, 64);
      for (let s = 0; s < 64; s++) {
        if (before[s] === after[s]) continue;
        moved++;
        expect(after[s]).toBe(all[3]);
      }
    }
    // 1/4 of 64 shards on average.
    expect(moved / 100).toBeGreaterThan(13);
    expect(moved / 100).toBeLessThan(19);
  });

  it('moves only the shards of a member that leaves', () => {
    for (let seed = 0; seed < 100; seed++) {
      const all = members(4, seed);
      const before = owners(all, 64);
      const after = owners(all.filter((m) => m !== all[1]), 64);
      for (let s = 0; s < 64; s++) if (before[s] !== all[1]) expect(after[s]).toBe(before[s]);
      expect(after).not.toContain(all[1]);
    }
  });

  it('breaks a tie by the smallest member id', () => {
    // Two ids whose scores for shard 0 are equal (found by search: a 32-bit collision).
    expect(ownerOf(0, ['m763399', 'm1109514'])).toBe('m1109514');
    expect(ownerOf(0, ['m1109514', 'm763399'])).toBe('m1109514');
    expect(ownerOf(1, ['m763399', 'm1109514'])).toBe(ownerOf(1, ['m1109514', 'm763399']));
  });
});
