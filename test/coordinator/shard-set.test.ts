/**
 * Shard ownership ({@link ShardSet}) on a fake clock, with an in-memory lock
 * table and membership standing in for PostgreSQL's: a lock held by another
 * member is refused, each win increments the lock's epoch, a member's row
 * expires 3 s after its last heartbeat, and a dead process's locks go with its
 * session.
 *
 * Every member records what its callbacks see; after each test no shard was
 * ever stepped by two members at once, no member gained a shard twice without
 * losing it between, and a shard's callbacks never overlapped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { desiredShards } from '../../src/coordinator/rendezvous.js';
import type { Clock } from '../../src/coordinator/clock.js';
import { ShardSet, type ShardSetOptions } from '../../src/coordinator/shard-set.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { Fence, StoreLock } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import { deferred } from '../api/helpers.js';

const TTL_MS = 3000;
const SHARDS = 16;

/** A lock as the store holds it. */
interface Entry {
  member: string;
  lost: () => void;
}

/** The store's side: the lock table, the leader epochs and the membership rows. */
class FakeStore {
  readonly locks = new Map<string, Entry>();
  readonly epochs = new Map<string, number>();
  /** Member → when its row expires. */
  readonly rows = new Map<string, number>();

  constructor(readonly clock: FakeClock) {}

  heartbeat(member: string): string[] {
    this.rows.set(member, this.clock.now() + TTL_MS);
    return [...this.rows].filter(([, expires]) => expires > this.clock.now()).map(([m]) => m).sort();
  }

  tryLock(member: string, name: string): StoreLock | undefined {
    if (this.locks.has(name)) return undefined;
    const epoch = (this.epochs.get(name) ?? 0) + 1;
    this.epochs.set(name, epoch);
    let lose!: () => void;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    const entry: Entry = { member, lost: lose };
    this.locks.set(name, entry);
    return {
      fence: { name, epoch },
      lost,
      release: async () => {
        if (this.locks.get(name) === entry) this.locks.delete(name);
        lose();
      },
    };
  }

  /** The lock's session ends: it is free, its holder learns it lost it. */
  breakLock(name: string): void {
    const entry = this.locks.get(name);
    this.locks.delete(name);
    entry?.lost();
  }
}

const lockName = (shard: number): string => `coordinator:test:shard:${shard}`;

/** A coordinator process: its shard set and what its callbacks saw. */
class Member {
  readonly set: ShardSet;
  /** Shards whose onGained ran (and did not end in an onLost yet). */
  readonly stepping = new Set<number>();
  readonly gains: { shard: number; fence: Fence }[] = [];
  readonly losses: number[] = [];
  leaves = 0;
  dead = false;
  /** Heartbeats throw while set. */
  heartbeatDown = false;
  /** onGained throws for these shards (once each). */
  readonly failGain = new Set<number>();
  /** onGained waits for this before returning, when set. */
  gainGate: Promise<void> | undefined;
  private readonly busy = new Set<number>();

  constructor(
    readonly id: string,
    private readonly world: World,
    options: Partial<ShardSetOptions> = {},
  ) {
    const { store } = world;
    const hang = new Promise<never>(() => undefined);
    // A dead process runs no code: its timers fire into nothing.
    const clock: Clock = {
      now: () => world.clock.now(),
      setTimeout: (fn, ms) => world.clock.setTimeout(() => (this.dead ? undefined : fn()), ms),
      clearTimeout: (handle) => world.clock.clearTimeout(handle),
    };
    this.set = new ShardSet({
      shardCount: SHARDS,
      member: id,
      heartbeat: async () => {
        if (this.dead) return hang;
        if (this.heartbeatDown) throw new Error('store unreachable');
        return store.heartbeat(id);
      },
      leave: async () => {
        this.leaves++;
        store.rows.delete(id);
      },
      tryLock: async (name) => (this.dead ? hang : store.tryLock(id, name)),
      lockName,
      intervalMs: 1000,
      clock,
      logger: silentLogger,
      onGained: (shard, fence) => this.enter(shard, async () => {
        if (this.stepping.has(shard)) world.violations.push(`${id} gained shard ${shard} twice without losing it`);
        for (const other of world.members) {
          if (other !== this && !other.dead && other.stepping.has(shard)) world.violations.push(`${id} and ${other.id} both step shard ${shard}`);
        }
        this.stepping.add(shard);
        this.gains.push({ shard, fence });
        await this.gainGate;
        if (this.failGain.delete(shard)) throw new Error('cannot consume the shard queue');
      }),
      onLost: (shard) => this.enter(shard, async () => {
        // Stopping takes a while (cancelling a consumer): the lock must not be released before it ends.
        await new Promise((resolve) => setImmediate(resolve));
        if (!this.stepping.delete(shard)) world.violations.push(`${id} lost shard ${shard} it had not gained`);
        this.losses.push(shard);
      }),
      ...options,
    });
  }

  /** Runs a callback of `shard`, recording a violation if another of the shard's runs. */
  private async enter(shard: number, work: () => Promise<void>): Promise<void> {
    if (this.busy.has(shard)) this.world.violations.push(`${this.id}: callbacks of shard ${shard} overlap`);
    this.busy.add(shard);
    try {
      await work();
    } finally {
      this.busy.delete(shard);
    }
  }

  /** kill -9: its heartbeats and lock attempts never answer again, its sessions (and locks) end. */
  kill(): void {
    this.dead = true;
    for (const [name, entry] of this.world.store.locks) if (entry.member === this.id) this.world.store.locks.delete(name);
  }
}

/** The fake clock, store and members of one test. */
class World {
  readonly clock = new FakeClock();
  readonly store = new FakeStore(this.clock);
  readonly members: Member[] = [];
  readonly violations: string[] = [];

  add(id: string, options: Partial<ShardSetOptions> = {}): Member {
    const member = new Member(id, this, options);
    this.members.push(member);
    member.set.start();
    return member;
  }

  /** The live members' ids. */
  get alive(): string[] {
    return this.members.filter((m) => !m.dead).map((m) => m.id);
  }

  /** Advances `ms` in ticks of 100 ms, checking after each that the lock table and the owners agree. */
  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 100) {
      await this.clock.advance(100);
      for (const member of this.members.filter((m) => !m.dead)) {
        for (const shard of member.set.owned()) {
          const entry = this.store.locks.get(lockName(shard));
          if (entry?.member !== member.id) this.violations.push(`${member.id} owns shard ${shard} without its lock (held by ${entry?.member})`);
        }
      }
    }
  }

  /** Whether every shard is owned by the member that should own it among the live ones. */
  settled(): boolean {
    const alive = this.alive;
    return this.members.filter((m) => !m.dead).every((m) => sameShards(m.set.owned(), desiredShards(m.id, alive, SHARDS)));
  }

  /** Advances until {@link World.settled}, at most `limitMs`; returns the time it took. */
  async settle(limitMs: number): Promise<number> {
    const from = this.clock.now();
    while (!this.settled()) {
      if (this.clock.now() - from >= limitMs) throw new Error(`not settled within ${limitMs} ms: ${this.describe()}`);
      await this.run(100);
    }
    return this.clock.now() - from;
  }

  private describe(): string {
    return this.members.map((m) => `${m.id}${m.dead ? ' (dead)' : ''} owns [${m.set.owned().join(',')}]`).join('; ');
  }

  async close(): Promise<void> {
    await Promise.all(this.members.filter((m) => !m.dead).map((m) => m.set.close()));
  }
}

const sameShards = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);
const ids = ['host-a:101:3f9e', 'host-b:102:77c1', 'host-c:103:0b2d', 'host-d:104:c4a8'] as const;

let world: World;
afterEach(async () => {
  await world.close();
  expect(world.violations).toEqual([]);
  expect(world.clock.pending).toBe(0);
});

describe('ShardSet', () => {
  it('three members share 16 shards fairly and exclusively', async () => {
    world = new World();
    const members = ids.slice(0, 3).map((id) => world.add(id));
    await world.settle(5000);
    const owned = members.map((m) => m.set.owned());
    expect(owned.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: SHARDS }, (_, s) => s));
    // Each its rendezvous share (settled); how fair the shares are is rendezvous.test.ts's matter (here 5, 9 and 2).
    for (const shards of owned) expect(shards.length).toBeGreaterThanOrEqual(2);
    for (const m of members) for (const s of m.set.owned()) expect(m.set.fenceOf(s)).toEqual(m.gains.findLast((g) => g.shard === s)?.fence);
    // Stable once settled: nothing moves.
    const gains = members.map((m) => m.gains.length);
    await world.run(5000);
    expect(members.map((m) => m.gains.length)).toEqual(gains);
  });

  it('a member joining takes its share, each shard released by its owner before it wins it', async () => {
    world = new World();
    const [a, b, c] = ids.slice(0, 3).map((id) => world.add(id));
    await world.settle(5000);
    const before = new Map([a!, b!, c!].flatMap((m) => m.set.owned().map((s) => [s, m] as const)));
    const d = world.add(ids[3]);
    await world.settle(5000);
    expect(d.set.owned().length).toBeGreaterThan(0);
    for (const shard of d.set.owned()) expect(before.get(shard)?.losses).toContain(shard);
    for (const m of [a!, b!, c!]) for (const shard of m.set.owned()) expect(before.get(shard)).toBe(m);
  });

  it("a dead member's shards are owned by the survivors within 5 s", async () => {
    world = new World();
    const [, , c] = ids.slice(0, 3).map((id) => world.add(id));
    await world.settle(5000);
    expect(c!.set.owned().length).toBeGreaterThan(0);
    c!.kill();
    const took = await world.settle(5000);
    expect(took).toBeGreaterThanOrEqual(TTL_MS - 1000);
  });

  it('a lost lock gives the shard up (onLost), and it is gained again at a later tick with a new epoch', async () => {
    world = new World();
    const a = world.add(ids[0]);
    await world.settle(2000);
    const fence = a.set.fenceOf(5)!;
    world.store.breakLock(lockName(5));
    await world.run(100);
    expect(a.losses).toEqual([5]);
    expect(a.set.fenceOf(5)).toBeUndefined();
    expect(a.set.owned()).not.toContain(5);
    await world.settle(2000);
    expect(a.set.fenceOf(5)?.epoch).toBe(fence.epoch + 1);
  });

  it('deposed(shard) gives the shard up at once; a stale refusal (an older epoch) is ignored', async () => {
    world = new World();
    const a = world.add(ids[0]);
    await world.settle(2000);
    const fence = a.set.fenceOf(3)!;
    a.set.deposed(3, fence);
    expect(a.set.fenceOf(3)).toBeUndefined();
    await world.run(100);
    expect(a.losses).toEqual([3]);
    expect(world.store.locks.has(lockName(3))).toBe(false);
    await world.settle(2000);
    a.set.deposed(3, fence);
    expect(a.set.fenceOf(3)?.epoch).toBe(fence.epoch + 1);
    a.set.deposed(3);
    await world.run(100);
    expect(a.losses).toEqual([3, 3]);
  });

  it('a deposition while onGained runs waits for it, then gives the shard up', async () => {
    world = new World();
    const gate = deferred();
    const a = world.add(ids[0]);
    a.gainGate = gate.promise;
    await world.run(100);
    expect(a.set.fenceOf(0)).toBeDefined();
    a.set.deposed(0);
    await world.run(100);
    expect(a.losses).toEqual([]);
    gate.resolve();
    await world.run(100);
    expect(a.losses).toContain(0);
  });

  it('onGained throwing releases the shard (after onLost) and tries it again later', async () => {
    world = new World();
    const a = world.add(ids[0]);
    a.failGain.add(7);
    await world.run(100);
    expect(a.losses).toEqual([7]);
    expect(world.store.locks.has(lockName(7))).toBe(false);
    expect(a.set.owned()).not.toContain(7);
    await world.settle(2000);
    expect(a.gains.filter((g) => g.shard === 7).map((g) => g.fence.epoch)).toEqual([1, 2]);
  });

  it('close() gives every shard up, leaves, leaves no timer, and is idempotent; the others take its shards', async () => {
    world = new World();
    const [a, b] = ids.slice(0, 2).map((id) => world.add(id));
    await world.settle(5000);
    const held = a!.set.owned();
    const lossesBefore = a!.losses.length;
    await Promise.all([a!.set.close(), a!.set.close()]);
    expect(a!.losses.slice(lossesBefore).sort((x, y) => x - y)).toEqual(held);
    expect(a!.set.owned()).toEqual([]);
    expect([...world.store.locks.values()].some((e) => e.member === a!.id)).toBe(false);
    expect(a!.leaves).toBe(1);
    world.members.splice(world.members.indexOf(a!), 1);
    // The survivor sees it gone at its next heartbeat (no TTL to wait for).
    await world.settle(2000);
    expect(b!.set.owned().length).toBe(SHARDS);
  });

  it('close() while a lock attempt is in flight gives back what it wins', async () => {
    world = new World();
    const slow = deferred();
    const a = world.add(ids[0], {
      tryLock: async (name) => {
        await slow.promise;
        return world.store.tryLock(ids[0], name);
      },
    });
    await world.run(100);
    const closed = a.set.close();
    slow.resolve();
    await closed;
    expect(world.store.locks.size).toBe(0);
    expect(a.gains).toEqual([]);
  });

  it('tries at most `parallel` locks at once', async () => {
    world = new World();
    const gate = deferred();
    let running = 0;
    let most = 0;
    const a = world.add(ids[0], {
      parallel: 3,
      tryLock: async (name) => {
        most = Math.max(most, ++running);
        await gate.promise;
        running--;
        return world.store.tryLock(ids[0], name);
      },
    });
    await world.run(100);
    expect(most).toBe(3);
    gate.resolve();
    await world.settle(2000);
    expect(most).toBe(3);
    expect(a.set.owned().length).toBe(SHARDS);
  });

  it('onLost throwing still releases the lock', async () => {
    world = new World();
    const a = world.add(ids[0], {
      onLost: async () => {
        throw new Error('cancel failed');
      },
    });
    await world.settle(2000);
    await a.set.close();
    expect(world.store.locks.size).toBe(0);
    expect(a.leaves).toBe(1);
  });

  it('a failing heartbeat keeps the shards held; others expecting them are refused by the locks', async () => {
    world = new World();
    const [a, b] = ids.slice(0, 2).map((id) => world.add(id));
    await world.settle(5000);
    const held = a!.set.owned();
    const lossesBefore = a!.losses.length;
    a!.heartbeatDown = true;
    await world.run(10_000);
    expect(a!.set.owned()).toEqual(held);
    expect(a!.losses.length).toBe(lossesBefore);
    expect(b!.set.owned().length).toBe(SHARDS - held.length);
    a!.heartbeatDown = false;
    await world.settle(3000);
    expect(a!.set.owned()).toEqual(held);
  });

  it('a heartbeat that never answers times out: the ticks go on, and the member takes its shards once the store answers', async () => {
    world = new World();
    const a = world.add(ids[0], { heartbeat: async () => (hanging ? new Promise<never>(() => undefined) : world.store.heartbeat(ids[0])) });
    let hanging = true;
    await world.run(10_000);
    expect(a.set.owned()).toEqual([]);
    hanging = false;
    await world.settle(5000);
    expect(a.set.owned()).toHaveLength(SHARDS);
  });

  it('with one shard, one member of several steps it, and a survivor takes it over within 5 s', async () => {
    world = new World();
    const members = ids.slice(0, 3).map((id) => world.add(id, { shardCount: 1 }));
    const owner = async (): Promise<Member> => {
      for (let i = 0; i < 50; i++) {
        const holding = members.filter((m) => !m.dead && m.set.owned().length > 0);
        if (holding.length === 1) return holding[0]!;
        await world.run(100);
      }
      throw new Error('no single owner');
    };
    const first = await owner();
    expect(first.set.fenceOf(0)?.epoch).toBe(1);
    first.kill();
    const from = world.clock.now();
    const second = await owner();
    expect(second).not.toBe(first);
    expect(world.clock.now() - from).toBeLessThanOrEqual(5000);
    expect(second.set.fenceOf(0)?.epoch).toBe(2);
  });
});
