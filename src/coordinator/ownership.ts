/**
 * The shard ownership of one coordinator process: a {@link ShardSet} wired to
 * the store's membership and locks (see docs/distributed.md, "Shards and
 * ownership"). Who owns a shard steps its runs; the others hand its signals back.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/port.js';
import type { Clock } from './clock.js';
import { ShardSet } from './shard-set.js';

/** A coordinator's membership lasts this many heartbeat intervals without a heartbeat (see `ShardSet`). */
const MEMBERSHIP_TTL_INTERVALS = 3;

/** What {@link shardOwnership} needs. */
export interface OwnershipOptions {
  /** The store: its number of shards and membership. */
  store: Store;
  /** The store's `tryLock`, bound (a store without one has no shards to own). */
  tryLock: NonNullable<Store['tryLock']>;
  /** The deployment's key (the AMQP prefix): part of every lock name. */
  key: string;
  /** This process's member id. @default `<host>:<pid>:<random>` */
  member?: string;
  /** Heartbeat and campaign interval, ms. */
  intervalMs: number;
  /** Timers. */
  clock: Clock;
  /** Logs. */
  logger: Logger;
  /** A shard was won: start stepping its runs. */
  onGained: (shard: number) => Promise<void>;
  /** A shard was given up or lost: stop stepping its runs. */
  onLost: (shard: number) => Promise<void>;
}

/** The shard set of a coordinator, not started yet (`start()`). */
export function shardOwnership(options: OwnershipOptions): ShardSet {
  const { store, key, intervalMs } = options;
  const shardCount = store.shards;
  const member = options.member ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  return new ShardSet({
    shardCount,
    member,
    // Without a membership in the store, every coordinator wants every shard: the locks decide.
    heartbeat: async () => (store.heartbeat === undefined ? [member] : store.heartbeat(member, intervalMs * MEMBERSHIP_TTL_INTERVALS)),
    leave: async () => store.leave?.(member),
    tryLock: options.tryLock,
    // One shard keeps the lock of the single election of earlier versions (a rolling upgrade keeps one leader).
    lockName: (shard) => (shardCount === 1 ? `coordinator:${key}` : `coordinator:${key}:shard:${shard}`),
    intervalMs,
    clock: options.clock,
    logger: options.logger,
    onGained: options.onGained,
    onLost: options.onLost,
  });
}
