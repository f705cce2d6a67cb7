/**
 * Resuming, at connect, the live runs a process finds in its store (embedded,
 * durable store): a run is resumed once every task it uses is registered, so a
 * process may register its tasks after `connect()` (with `client.register()` or
 * by starting a flow that uses them).
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

/** Runs found at connect, resumed as their tasks become known. */
export class Resumer {
  /** Runs not resumed yet, with the task names they wait for. */
  private readonly waiting = new Map<string, readonly string[]>();
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
        for (const id of ready) this.waiting.delete(id);
        await this.coordinator.resume(ready);
      })
      .catch((error: unknown) => this.logger.error({ error: (error as Error).message }, 'could not resume runs after registration'));
    return this.work;
  }

  /** Whether run `id` waits for tasks this process has not registered (its outbox items are left to others meanwhile). */
  waits(id: string): boolean {
    return this.waiting.has(id);
  }

  /** Waits for resumes under way (before closing). */
  settled(): Promise<void> {
    return this.work;
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
