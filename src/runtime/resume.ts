/**
 * Resuming, at connect, the live runs a process finds in its store (embedded,
 * durable store): a run is resumed once every task it uses is registered, so a
 * process may register its tasks after `connect()` (with `client.register()` or
 * by starting a flow that uses them). A run it meets later in the outbox (one
 * another process created or changed) is checked the same way before the
 * process carries out its work: a run whose tasks it lacks waits for a process
 * that has them, it is never failed here `TW_UNKNOWN_TASK`.
 *
 * @packageDocumentation
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import type { Logger } from '../observability/logger.js';
import type { RunState } from '../engine/state.js';
import type { FlowDefinition } from '../model/definition.js';
import type { Store } from '../store/port.js';
import type { TaskRegistry } from '../worker/registry.js';

/** The names of the tasks the nodes of `run` execute, once each. */
export function tasksOf(run: RunState): string[] {
  return tasksOfFlow({ nodes: [...run.nodes.values()].map((node) => node.def) });
}

/** The names of the tasks the nodes of a flow definition execute, once each. */
export function tasksOfFlow(flow: Pick<FlowDefinition, 'nodes'>): string[] {
  return [...new Set(flow.nodes.filter((def) => def.kind === 'task').map((def) => def.name))];
}

/** How many runs {@link Resumer.carries} remembers as checked (least recently checked forgotten first: checked again). */
const CHECKED_RUNS = 10_000;

/** Runs found at connect, resumed as their tasks become known. */
export class Resumer {
  /** Runs not resumed yet, with the task names they wait for. */
  private readonly waiting = new Map<string, readonly string[]>();
  /** Runs whose tasks are all registered here (checked), in check order. */
  private readonly ready = new Set<string>();
  /** Runs being checked. */
  private readonly checking = new Set<string>();
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly coordinator: Coordinator,
    private readonly registry: TaskRegistry,
    private readonly logger: Logger,
  ) {}

  /** Looks at every live run of the store; resumes those whose tasks are all registered. */
  async start(): Promise<void> {
    const ids = await this.store.liveRunIds();
    const ready = await Promise.all(ids.map((id) => this.check(id)));
    ids.forEach((id, i) => ready[i] === true && this.remember(id));
    // Called even with none ready: the coordinator's outbox poller waits for it.
    await this.coordinator.resume(ids.filter((_, i) => ready[i] === true));
  }

  /**
   * Called after tasks are registered: resumes the waiting runs they complete.
   * Serialised; a failure is logged (the run stays as it was, resumed at the next connect).
   */
  registered(): Promise<void> {
    if (this.waiting.size === 0) return this.work;
    this.work = this.work
      .then(async () => {
        const ready = [...this.waiting].filter(([, tasks]) => tasks.every((name) => this.registry.has(name))).map(([id]) => id);
        for (const id of ready) {
          this.waiting.delete(id);
          this.remember(id);
        }
        await this.coordinator.resume(ready);
      })
      .catch((error: unknown) => this.logger.error({ error: (error as Error).message }, 'could not resume runs after registration'));
    return this.work;
  }

  /**
   * Whether this process carries out the outbox items of run `id`: once it
   * has checked that every task of the run is registered here. A run it has
   * not met yet is checked in the background and left meanwhile (its items are
   * due again once their claim ends); one whose tasks it lacks waits for them.
   */
  carries(id: string): boolean {
    if (this.ready.has(id)) return true;
    if (!this.waiting.has(id) && !this.checking.has(id)) {
      this.checking.add(id);
      this.check(id).then(
        (ready) => {
          this.checking.delete(id);
          if (ready) this.remember(id);
        },
        (error: unknown) => {
          this.checking.delete(id);
          this.logger.warn({ runId: id, error: (error as Error).message }, 'could not check the tasks of a run: its work is left for now');
        },
      );
    }
    return false;
  }

  /** Waits for resumes under way (before closing). */
  settled(): Promise<void> {
    return this.work;
  }

  private remember(id: string): void {
    this.ready.add(id);
    if (this.ready.size > CHECKED_RUNS) this.ready.delete(this.ready.values().next().value as string);
  }

  /** Whether run `id` can be resumed now (every task it uses is registered); if not, it waits for them. */
  private async check(id: string): Promise<boolean> {
    const run = await this.store.loadRun(id);
    if (run === undefined) return false;
    const tasks = tasksOf(run);
    const missing = tasks.filter((name) => !this.registry.has(name));
    if (missing.length === 0) return true;
    this.waiting.set(id, tasks);
    this.logger.info({ runId: id, tasks: missing }, 'run not resumed until its tasks are registered');
    return false;
  }
}
