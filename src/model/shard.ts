/**
 * Shards: the runs of a deployment are partitioned by a hash of the run id
 * into a fixed number of shards (set when the store is migrated). Each shard
 * is stepped by one coordinator at a time (see docs/distributed.md).
 *
 * @packageDocumentation
 */
import { fnv1a32 } from './hash.js';

/** The shard of run `runId` among `shards` shards (0 ≤ shard < shards). */
export function shardOf(runId: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a32(runId) % shards;
}
