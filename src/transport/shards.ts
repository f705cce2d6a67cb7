/**
 * Signal shards on the transport side: a transport carries the signals of S
 * shards (S = 1 for the in-process transport), each signal to the shard of its
 * run (`shardOf` in `src/model/shard.ts`), and a coordinator consumes the
 * signals of one shard at a time (`ConsumeOptions.shard`). See docs/distributed.md.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { shardOf } from '../model/shard.js';

/**
 * The shard named by `ConsumeOptions.shard` (undefined: 0) among `shards`.
 * Throws ConfigError for a shard that is not an integer from 0 to `shards - 1`.
 */
export function checkShard(shard: number | undefined, shards: number): number {
  const value = shard ?? 0;
  if (!Number.isInteger(value) || value < 0 || value >= shards) {
    const range = shards === 1 ? 'only shard 0 (this transport carries one shard)' : `an integer from 0 to ${shards - 1}`;
    throw new ConfigError(`invalid shard ${String(shard)}: expected ${range}`);
  }
  return value;
}

/** The shard of the signals of run `runId` among a transport's `shards`. */
export function signalShard(runId: string, shards: number): number {
  return shards === 1 ? 0 : shardOf(runId, shards);
}
