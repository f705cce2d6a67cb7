/**
 * Who owns which shard: rendezvous (highest random weight) hashing. Every
 * coordinator process computes the same answer from the same list of alive
 * members, with no coordination: shard `s` belongs to the member `m` with the
 * highest score `mix32(fnv1a32(m + '/' + s))`, ties going to the smallest
 * member id.
 *
 * The score is FNV-1a followed by MurmurHash3's 32-bit finalizer: FNV-1a alone
 * is not enough, since the member ids differ before the shard number and share
 * it as suffix, and FNV-1a's last rounds then keep the members' order nearly the
 * same for every shard (three random member ids and 64 shards: seven times in
 * ten a member gets fewer than 10 or more than 33 shards, sometimes all 64).
 * With the finalizer, the spread is that of random scores.
 *
 * When a member joins, only the shards it now wins move, all to it (about
 * 1/n of them); when one leaves, only its shards move, spread over the others.
 *
 * @packageDocumentation
 */
import { fnv1a32 } from '../model/hash.js';

/** The owner of `shard` among `members`: the highest score wins, ties to the smallest id; undefined without members. */
export function ownerOf(shard: number, members: readonly string[]): string | undefined {
  let owner: string | undefined;
  let best = -1;
  for (const member of members) {
    const score = mix32(fnv1a32(`${member}/${shard}`));
    if (score > best || (score === best && owner !== undefined && member < owner)) {
      owner = member;
      best = score;
    }
  }
  return owner;
}

/** MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability ~1/2. */
function mix32(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The shards (of `0..shardCount-1`, ascending) that `self` owns among
 * `members`; `self` counts as a member whether listed or not.
 */
export function desiredShards(self: string, members: readonly string[], shardCount: number): number[] {
  const all = members.includes(self) ? members : [...members, self];
  const shards: number[] = [];
  for (let shard = 0; shard < shardCount; shard++) if (ownerOf(shard, all) === self) shards.push(shard);
  return shards;
}
