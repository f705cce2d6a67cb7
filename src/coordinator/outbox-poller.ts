/**
 * The coordinator's outbox poller: every `pollIntervalMs` it claims what the
 * outbox holds that is due in the shards the coordinator owns (leftovers of
 * crashed steps, retries, lease ends, work left by clients) and carries it out
 * (`carryOutClaimed`). A process that owns no shard leaves the outbox to
 * those that do.
 *
 * @packageDocumentation
 */
import type { EngineEvent, GateCommand } from '../engine/events.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/port.js';
import type { Transport } from '../transport/port.js';
import type { Clock } from './clock.js';
import { carryOutClaimed, scheduledEvent } from './outbox.js';
import { OutboxBackoff } from './outbox-backoff.js';

/** Items claimed per poll. */
const CLAIM_LIMIT = 500;

/** What the poller needs from its coordinator. */
export interface PollerDeps {
  store: Store;
  transport: Transport;
  logger: Logger;
  clock: Clock;
  /** Time between polls. */
  intervalMs: number;
  /** How long a claim lasts (and the first backoff of a failing item). */
  republishAfterMs: number;
  /** How long a publish may wait for its confirm. */
  publishTimeoutMs: number;
  /** The shards owned now (undefined: no shards, every item is claimable). */
  shards(): readonly number[] | undefined;
  /** How long the end of a lease must still wait (see `CoordinatorOptions.leaseGraceMs`). */
  graceLeft(event: EngineEvent): number;
  /** Steps an event (resolves once committed). */
  submit(runId: string, event: EngineEvent): Promise<unknown>;
  /** Carries out flow-control gate commands (`GateKeeper.apply`). */
  gates(commands: readonly GateCommand[]): Promise<void>;
  /** Whether the items of a run are carried out here (else left claimed: due again once the claim ends). */
  carries(runId: string): boolean;
  /** The store answered a poll again after failing one: an outage ended (the lease grace starts again). */
  storeBack(): void;
}

/** Polls the outbox (see the module doc). */
export class OutboxPoller {
  /** Set while polls are to wait (until `Coordinator.resume`). */
  held = false;
  private readonly backoff: OutboxBackoff;
  private timer: unknown;
  /** The poll in flight, if any. */
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** A store call of the last poll failed (the store clock or the claim). */
  private storeFailed = false;

  constructor(private readonly deps: PollerDeps) {
    this.backoff = new OutboxBackoff(deps.republishAfterMs);
  }

  /** Polls every interval from now on. */
  start(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => {
      const standby = this.deps.shards()?.length === 0;
      this.polling = (standby || this.held ? Promise.resolve() : this.poll())
        .catch((error: unknown) => this.deps.logger.warn({ error: (error as Error).message }, 'outbox poll failed'))
        .finally(() => {
          this.polling = undefined;
          this.start();
        });
    }, this.deps.intervalMs);
    // Polling alone must not keep a process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Stops polling at once (no new poll starts). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
  }

  /** Resolves once the poll in flight, if any, is done. */
  async idle(): Promise<void> {
    await this.polling;
  }

  /** Claims and carries out what is due now. */
  async poll(): Promise<void> {
    const { store, transport, clock, logger } = this.deps;
    // Judged by the store's clock when it has one (shared by every poller), so
    // that a poller whose clock runs ahead does not take items others claimed.
    let now: number;
    let claimed: Awaited<ReturnType<Store['claimOutbox']>>;
    try {
      now = (await store.clock?.()) ?? clock.now();
      // The shards owned now (they may have been given up while the clock was read): none, nothing to claim.
      const shards = this.deps.shards();
      if (shards?.length === 0) return;
      claimed = await store.claimOutbox(now, CLAIM_LIMIT, this.deps.republishAfterMs, shards);
    } catch (error) {
      this.storeFailed = true;
      throw error;
    }
    // Back after an outage that only the poller saw: heartbeats parked meanwhile (here or by
    // another coordinator) may not be stepped yet, so the ends of leases wait out the grace again.
    if (this.storeFailed) {
      this.storeFailed = false;
      this.deps.storeBack();
    }
    // An end of lease within the grace period is left claimed: it is due again once the claim ends.
    // So is an item of a run this process leaves to others (see `CoordinatorOptions.carries`).
    const items = claimed.filter((item) => this.deps.carries(item.runId) && (item.command.type !== 'schedule' || this.deps.graceLeft(scheduledEvent(item.command)) <= 0));
    if (items.length === 0) return;
    await carryOutClaimed(items, { store, transport, logger, timeoutMs: this.deps.publishTimeoutMs, clock, backoff: this.backoff, now, submit: (runId, event) => this.deps.submit(runId, event), gates: (commands) => this.deps.gates(commands) });
  }
}
