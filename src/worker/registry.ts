/**
 * The task registry: the code a process can execute, by task name.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { AnyTask } from '../model/task.js';
import type { TaskInfo } from '../store/port.js';

/** Tasks known to this process, by name. */
export class TaskRegistry {
  private readonly tasks = new Map<string, AnyTask>();

  /** Registers tasks. Registering the same task object twice is fine; two different tasks with one name are not. */
  register(...tasks: AnyTask[]): this {
    for (const task of tasks) {
      const known = this.tasks.get(task.name);
      if (known !== undefined && known !== task) {
        throw new ConfigError(`task "${task.name}" is already registered with a different definition`);
      }
      this.tasks.set(task.name, task);
    }
    return this;
  }

  /** The task of that name, or undefined. */
  get(name: string): AnyTask | undefined {
    return this.tasks.get(name);
  }

  /** Whether a task of that name is registered. */
  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** What the catalog shows of each registered task. */
  infos(): TaskInfo[] {
    return [...this.tasks.values()].map((t) => ({
      name: t.name,
      requires: [...t.requires],
      optional: [...t.optional],
      provides: [...t.provides],
      rollback: t.rollback !== undefined,
      retry: { ...t.retry },
      timeoutMs: t.timeoutMs,
      queue: t.queue,
      ...(t.limit === undefined ? {} : { limit: { ...t.limit } }),
      ...(t.rate === undefined ? {} : { rate: { ...t.rate } }),
    }));
  }

  /** Registered task names. */
  names(): string[] {
    return [...this.tasks.keys()];
  }
}
