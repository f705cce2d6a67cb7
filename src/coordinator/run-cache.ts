/**
 * The coordinator's cache of live runs: a least-recently-used map bounded by a
 * size and by a time unused. A cached run saves a store load per event; a
 * stale or evicted one costs only a reload (a commit from a stale copy
 * conflicts and is stepped again), so the bounds trade memory for loads only.
 *
 * @packageDocumentation
 */
import { liveRun, type LiveRun } from '../engine/index.js';
import type { Store } from '../store/port.js';
import type { Clock } from './clock.js';

/** Default of `CoordinatorOptions.cacheSize`. */
export const DEFAULT_CACHE_SIZE = 5000;
/** Default of `CoordinatorOptions.cacheTtlMs`. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;

/** Runs by id, least recently used first. */
export class RunCache {
  private readonly entries = new Map<string, { live: LiveRun; usedAt: number }>();

  constructor(
    private readonly maxRuns: number,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  /** How many runs are cached. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether a run is cached and fresh (does not count as a use). */
  has(id: string): boolean {
    const entry = this.entries.get(id);
    return entry !== undefined && this.clock.now() - entry.usedAt <= this.ttlMs;
  }

  /** A cached run, now the most recently used; undefined (and forgotten) if unused for longer than the TTL. */
  get(id: string): LiveRun | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    const now = this.clock.now();
    if (now - entry.usedAt > this.ttlMs) return undefined;
    entry.usedAt = now;
    this.entries.set(id, entry);
    return entry.live;
  }

  /** Caches a run as the most recently used, evicting the least recently used beyond the size. */
  set(id: string, live: LiveRun): void {
    this.entries.delete(id);
    this.entries.set(id, { live, usedAt: this.clock.now() });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxRuns) break;
      this.entries.delete(oldest);
    }
  }

  /** Forgets a run. */
  delete(id: string): void {
    this.entries.delete(id);
  }

  /** Forgets every run. */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * The runs `runIds`, from the cache or else from the store (and cached then);
 * runs the store does not hold are left out. The caller holds on to them: an
 * `invalidate()` while loading (a client's change) must not make a cached run
 * look unknown, which would drop its signals. A stale copy is safe to step:
 * its commit conflicts, and it is reloaded.
 */
export async function loadRuns(cache: RunCache, store: Store, runIds: readonly string[]): Promise<Map<string, LiveRun>> {
  const runs = new Map<string, LiveRun>();
  for (const id of runIds) {
    const cached = cache.get(id);
    if (cached !== undefined) runs.set(id, cached);
  }
  const missing = runIds.filter((id) => !runs.has(id));
  if (missing.length === 0) return runs; // all cached: no promises to wait for
  await Promise.all(
    missing.map(async (id) => {
      const state = await store.loadRun(id);
      if (state === undefined) return;
      const live = liveRun(state);
      cache.set(id, live);
      runs.set(id, live);
    }),
  );
  return runs;
}
