/**
 * The coordinator's side of flow-control gates (docs/flow-control.md): carries
 * out the engine's `gate` commands (an execution joins its gate's line, or
 * gives back its place or permit), then admits at the gates they touched, in
 * the line's order, as far as the limits allow; each admission is stepped as a
 * `gate.admitted` event of its run. Waiters held back by a rate limit are
 * admitted again when it allows (a timer).
 *
 * A sweep ({@link GateKeeper.sweep}: periodic with `gateSweepMs`, PostgreSQL)
 * admits at every gate with waiters (releases made by another coordinator, a
 * rate timer lost with its process) and settles the permits whose execution
 * is over (a release lost in a crash: given back) or whose admission was lost
 * (stepped again).
 *
 * @packageDocumentation
 */
import type { EngineEvent, GateCommand } from '../engine/events.js';
import { UnknownRunError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { GateRef, GateWaiter } from '../store/gates.js';
import type { Store } from '../store/port.js';
import type { Clock } from './clock.js';

/** What a {@link GateKeeper} needs from its coordinator. */
export interface GateKeeperDeps {
  /** Where the gates are. */
  store: Store;
  /** Time and the rate limits' timers. */
  clock: Clock;
  /** For admissions and sweeps that fail. */
  logger: Logger;
  /** Steps an event of a run. */
  submit(runId: string, event: EngineEvent): Promise<unknown>;
}

/** Carries out gate commands and admits waiting executions (see the module doc). */
export class GateKeeper {
  /** Rate-limit timers by gate: when the gate is admitted at again. */
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private sweeper: unknown;
  private sweeping: Promise<void> | undefined;
  /** Admissions being stepped. */
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly deps: GateKeeperDeps) {}

  /**
   * Carries out `commands` (joins and leaves, in order), then admits at each
   * gate they touched. Rejects when the store refuses a join or a leave (the
   * commands stay in the outbox, with a durable transport); admissions that
   * fail are logged and left to the next release or sweep.
   */
  async apply(commands: readonly GateCommand[]): Promise<void> {
    if (commands.length === 0) return;
    const gates = this.deps.store.gates();
    const waits: GateWaiter[] = [];
    const releases: GateRef[] = [];
    for (const c of commands) {
      const ref: GateRef = { gate: c.gate, runId: c.runId, node: c.node, attempt: c.attempt };
      if (c.op === 'release') releases.push(ref);
      else waits.push({ ...ref, ...(c.concurrency === undefined ? {} : { concurrency: c.concurrency }), ...(c.rate === undefined ? {} : { rate: c.rate }), priority: c.priority ?? 1 });
    }
    // Leaves first: a permit given back in the same batch is free for the joins.
    await gates.release(releases);
    await gates.wait(waits);
    await this.admitAll(new Set(commands.map((c) => c.gate)));
  }

  /** Admits at each of `gates` (failures logged). */
  private async admitAll(gates: Iterable<string>): Promise<void> {
    await Promise.all([...gates].map((gate) => this.admit(gate)));
  }

  /** Admits what gate `gate` allows now, steps the admissions, and sets a timer for a rate limit. */
  private async admit(gate: string): Promise<void> {
    if (this.closed) return;
    const { store, clock, logger } = this.deps;
    try {
      const now = clock.now();
      const { admitted, retryAt } = await store.gates().admit(gate, now);
      if (retryAt !== undefined) this.admitAt(gate, retryAt);
      // Not awaited: the commands that led here are carried out in the coordinator's pipeline, which
      // steps the admissions after them (awaiting them here would wait for itself).
      for (const ref of admitted) this.track(this.admitted(ref, now));
    } catch (error) {
      logger.warn({ gate, error: (error as Error).message }, 'admission at a gate failed; tried again at the next release or sweep');
    }
  }

  /** Keeps an admission's step until it settles (close waits for it); a failure is logged (a sweep steps it again). */
  private track(admission: Promise<void>): void {
    const settled = admission.catch((error: unknown) => {
      if (!this.closed) this.deps.logger.warn({ error: (error as Error).message }, 'admission not stepped; stepped again by the next sweep');
    });
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
  }

  /** Steps an admission; a run that no longer exists gives its permit back. */
  private async admitted(ref: GateRef, admittedAt: number): Promise<void> {
    try {
      await this.deps.submit(ref.runId, { type: 'gate.admitted', gate: ref.gate, admittedAt, node: ref.node, attempt: ref.attempt });
    } catch (error) {
      if (error instanceof UnknownRunError) await this.deps.store.gates().release([ref]);
      else throw error;
    }
  }

  /** Admits at `gate` again at `at` (one timer per gate, the earliest). */
  private admitAt(gate: string, at: number): void {
    if (this.closed) return;
    const set = this.timers.get(gate);
    if (set !== undefined && set.at <= at) return;
    if (set !== undefined) this.deps.clock.clearTimeout(set.handle);
    const handle = this.deps.clock.setTimeout(
      () => {
        this.timers.delete(gate);
        void this.admit(gate);
      },
      Math.max(0, at - this.deps.clock.now()),
    );
    this.timers.set(gate, { at, handle });
  }

  /** Sweeps every `intervalMs` (see the module doc). */
  start(intervalMs: number): void {
    if (this.closed || this.sweeper !== undefined) return;
    const tick = (): void => {
      this.sweeper = this.deps.clock.setTimeout(() => {
        this.sweeping = this.sweep().finally(() => {
          this.sweeping = undefined;
          if (!this.closed) tick();
        });
      }, intervalMs);
    };
    tick();
  }

  /**
   * Settles the permits (given back when their execution is over, admitted
   * again when the admission was lost) and admits at every gate with waiters.
   * Never rejects.
   */
  async sweep(): Promise<void> {
    const { store, logger } = this.deps;
    try {
      const gates = store.gates();
      const byRun = new Map<string, GateRef[]>();
      for (const ref of await gates.permits()) byRun.set(ref.runId, [...(byRun.get(ref.runId) ?? []), ref]);
      const over: GateRef[] = [];
      const lost: GateRef[] = [];
      for (const [runId, refs] of byRun) {
        const run = await store.loadRun(runId);
        for (const ref of refs) {
          const node = run?.nodes.get(ref.node);
          if (node?.status === 'running' && node.attempt === ref.attempt && node.gate === ref.gate) continue;
          if (node?.status === 'waiting' && node.throttled === ref.gate && node.attempt + 1 === ref.attempt) lost.push(ref);
          else over.push(ref);
        }
      }
      await gates.release(over);
      // The admission's time is lost with it: the sweep's stands in.
      const now = this.deps.clock.now();
      for (const ref of lost) this.track(this.admitted(ref, now));
      await this.admitAll(await gates.waiting());
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'gate sweep failed; tried again at the next one');
    }
  }

  /** Stops the sweeps and the rate timers; waits for a sweep and admissions in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper !== undefined) this.deps.clock.clearTimeout(this.sweeper);
    for (const { handle } of this.timers.values()) this.deps.clock.clearTimeout(handle);
    this.timers.clear();
    await this.sweeping;
    await Promise.all(this.inFlight);
  }
}
