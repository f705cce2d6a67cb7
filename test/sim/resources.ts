/**
 * What the simulator watches while the world runs, beyond the store's final
 * state (defects 11 and 13 of issue 8): the bytes each commit hands the store
 * per notification, the outbox claims judged by the store's clock, the aborts
 * committed and the aborts the broker took, and the size of every
 * coordinator's run cache. The store view, the broker and a probe after each
 * scheduler step feed a {@link Watch}; {@link checkResources} turns it into
 * violations once the world is quiet.
 */
import type { Command } from '../../src/engine/events.js';
import { nodeRow } from '../../src/store/backlog.js';
import type { CommitResult, OutboxItem, StepCommit } from '../../src/store/port.js';

/**
 * Most bytes of node rows and backlog rows a commit may hand the store per
 * notification it applies (a node counted as the commit carries it, its
 * backlog included if it has one). A notification that waits in a backlog
 * writes one row of about 60 bytes, and the event node; one that activates a
 * listener, its node: under 700 bytes in these flows, whatever the backlog's
 * length. Before backlogs were rows, the listener's node was written again
 * with its whole backlog at every notification (40-50 bytes more per waiting
 * notification: quadratic in all).
 */
export const MAX_BYTES_PER_NOTIFICATION = 1500;

/** What an abort targets. */
type AbortTarget = Pick<Extract<Command, { type: 'abort' }>, 'runId' | 'node' | 'attempt' | 'activation'>;

/** An abort's target as one string. */
const abortKey = (abort: AbortTarget): string =>
  `${abort.runId}/${abort.node ?? '*'}/${abort.attempt ?? '*'}/${abort.activation ?? '*'}`;

/** A coordinator whose cache the probe reads. */
export interface CacheOwner {
  name: string;
  /** `Coordinator.cachedRuns`. */
  readonly cachedRuns: number;
}

/** What the simulator observed while the world ran. */
export class Watch {
  /**
   * The runs whose commits' node and backlog rows are measured (JSON.stringify:
   * costly, so only in seeds with a backlog, and only the ordinary workload's
   * runs: the size scenarios' rows are large by design).
   */
  measuredRuns: ReadonlySet<string> = new Set();
  /** The cache bound every coordinator was given, when the seed checks it. */
  cacheSize: number | undefined;
  private readonly writes: { bytes: number; notified: number; runId: string; at: number; by: string }[] = [];
  /** Per outbox item, the store time until which it is not due: its due time, then each claim's end. */
  private readonly notDueBefore = new Map<string, number>();
  private readonly early: string[] = [];
  private readonly abortsCommitted = new Map<string, string>();
  private readonly abortsTaken = new Set<string>();
  private readonly oversized = new Map<string, string>();

  /** A commit was applied (or applied, then failed: ambiguous). */
  committed(commits: readonly StepCommit[], result: CommitResult, at: number, by: string): void {
    const conflicts = new Set(result.conflicts);
    for (const commit of commits) {
      if (conflicts.has(commit.run.id)) continue;
      for (const item of commit.outbox) if (item.command.type === 'abort') this.abortsCommitted.set(item.id, abortKey(item.command));
      if (!this.measuredRuns.has(commit.run.id)) continue;
      const notifications = commit.history.filter((e) => e.type === 'event.notified');
      if (notifications.length === 0) continue;
      // The rows as the stores write them: nodes without their backlog and held results, which are rows of their own.
      const bytes = JSON.stringify(commit.nodes.map(nodeRow)).length + JSON.stringify(commit.backlog ?? []).length + JSON.stringify(commit.held ?? []).length;
      this.writes.push({ bytes, notified: notifications.length, runId: commit.run.id, at, by });
    }
  }

  /**
   * A poller claimed outbox items at store time `at`, for `claimMs` from the
   * `now` it passed: each must have been due by the store's clock (not claimed
   * by another poller then, nor scheduled later).
   */
  claimed(items: readonly OutboxItem[], now: number, claimMs: number, at: number, by: string): void {
    for (const item of items) {
      const until = this.notDueBefore.get(item.id) ?? item.dueAt;
      if (until > at) this.early.push(`outbox item ${item.id} (${item.command.type}) claimed by ${by} ${until - at} ms before it was due by the store's clock (claimed by a poller, or scheduled, until then)`);
      this.notDueBefore.set(item.id, now + claimMs);
    }
  }

  /** The broker took aborts (an abort publish reached it). */
  abortsSent(messages: readonly AbortTarget[]): void {
    for (const message of messages) this.abortsTaken.add(abortKey(message));
  }

  /** After each scheduler step: every coordinator's cache within its bound. */
  probeCaches(owners: Iterable<CacheOwner>): void {
    if (this.cacheSize === undefined) return;
    for (const owner of owners) {
      if (owner.cachedRuns > this.cacheSize && !this.oversized.has(owner.name)) {
        this.oversized.set(owner.name, `cache bound: ${owner.name}'s coordinator holds ${owner.cachedRuns} runs, more than its cacheSize ${this.cacheSize}`);
      }
    }
  }

  /** The violations of the resource invariants. */
  violations(): string[] {
    const problems = [...this.oversized.values(), ...this.early.slice(0, 5)];
    if (this.early.length > 5) problems.push(`... and ${this.early.length - 5} more outbox items claimed before they were due`);
    for (const [id, key] of this.abortsCommitted) {
      if (!this.abortsTaken.has(key)) problems.push(`abort lost: outbox item ${id} (abort of ${key}) was committed, and the broker never took it`);
    }
    const heavy = this.writes.filter((w) => w.bytes / w.notified > MAX_BYTES_PER_NOTIFICATION);
    for (const w of heavy.slice(0, 3)) {
      problems.push(`backlog writes: a commit of ${w.runId} by ${w.by} wrote ${w.bytes} bytes of node and backlog rows for ${w.notified} notification(s) (bound ${MAX_BYTES_PER_NOTIFICATION} per notification)`);
    }
    return problems;
  }
}
