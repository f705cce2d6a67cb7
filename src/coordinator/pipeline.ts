/**
 * The coordinator's queue and its pipeline of batches. Events are taken in
 * batches (whatever is queued when the previous batch is committed); a batch
 * goes through two stages:
 *
 * 1. **commit**: load its runs, step them, commit the steps (one transaction
 *    per shard). One batch at a time: batch k+1 is stepped on the runs as
 *    batch k committed them.
 * 2. **hand-on**: settle the signals (acknowledged once their step is
 *    committed), publish the steps' commands and wait for the confirms, then
 *    answer the callers. It overlaps the next batch's commit.
 *
 * At most `depth` batches are in flight (default 2: batch k being handed on
 * while batch k+1 commits); the next commit waits for the oldest hand-on.
 * Why commands of one run may be published out of step order (a run stepped
 * in batch k+1 while batch k's publish is unconfirmed): docs/distributed.md,
 * "Pipelined batches".
 *
 * @packageDocumentation
 */
import type { Pending } from './pending.js';

/** Default of the pipeline's depth: batches in flight. */
export const DEFAULT_PIPELINE_DEPTH = 2;

/** The stages of a batch (see the module doc). */
export interface Stages {
  /**
   * Loads, steps and commits a batch. Resolves with its hand-on (started by
   * the pipeline at once, before the next batch is stepped), or undefined when
   * nothing is left to hand on.
   */
  commit(batch: Pending[]): Promise<(() => Promise<void>) | undefined>;
  /** The commit stage threw (the store is unreachable: a load failed). */
  failed(batch: Pending[], error: unknown): void;
}

/** The queue of events and the batches in flight (see the module doc). */
export class Pipeline {
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  /** Hand-ons in flight (they never reject). */
  private readonly handingOn = new Set<Promise<void>>();

  constructor(
    private readonly stages: Stages,
    private readonly depth = DEFAULT_PIPELINE_DEPTH,
  ) {}

  /** Queues events, stepped in the next batch. */
  push(...items: Pending[]): void {
    this.queue.push(...items);
    this.draining ??= this.drain();
  }

  /** Resolves once the queue is empty and no batch is in flight. */
  async idle(): Promise<void> {
    while (this.draining !== undefined || this.handingOn.size > 0) {
      await this.draining;
      await Promise.all(this.handingOn);
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // At most `depth` batches in flight, this one included.
        while (this.handingOn.size >= this.depth) await Promise.race(this.handingOn);
        const batch = this.queue;
        this.queue = [];
        let handOn: (() => Promise<void>) | undefined;
        try {
          handOn = await this.stages.commit(batch);
        } catch (error) {
          this.stages.failed(batch, error);
          continue;
        }
        if (handOn !== undefined) this.track(handOn());
      }
    } finally {
      // Cleared in the same tick the queue is found empty: an event queued
      // later starts a new drain (clearing it in a later callback lost events
      // queued in between).
      this.draining = undefined;
    }
  }

  private track(handOn: Promise<void>): void {
    const tracked = handOn.finally(() => this.handingOn.delete(tracked));
    this.handingOn.add(tracked);
  }
}
