/**
 * A handle on a cron schedule (`tw.schedule(...)`, `tw.scheduled(name)`):
 * read it, pause, resume or remove it, list its runs.
 *
 * @packageDocumentation
 */
import { UnknownScheduleError } from '../errors.js';
import type { RunFilter, RunSummary } from '../store/port.js';
import type { RuntimeParts } from './parts.js';
import { changeSchedule, findSchedule, infoOf, resumed, type ScheduleInfo } from './schedules.js';

/** A cron schedule held in the store. Every method rejects with `TW_UNKNOWN_SCHEDULE` once it is removed. */
export class ScheduleHandle {
  /** @internal use `tw.schedule()` or `tw.scheduled()` */
  constructor(
    /** The schedule's name. */
    readonly name: string,
    private readonly parts: RuntimeParts,
    private readonly changed: () => void,
  ) {}

  /** The schedule as stored: expression, policies, next tick, last run... */
  async info(): Promise<ScheduleInfo> {
    const row = await findSchedule(this.parts.store, this.name);
    if (row === undefined) throw new UnknownScheduleError(this.name);
    return infoOf(row);
  }

  /** Pauses it: no tick fires until {@link ScheduleHandle.resume}. Idempotent. */
  async pause(): Promise<ScheduleInfo> {
    const row = await changeSchedule(this.parts.store, this.name, this.parts.coordinator.now(), () => ({ paused: true }));
    this.changed();
    return infoOf(row);
  }

  /** Resumes it from the next tick after now (ticks while it was paused are not caught up). Idempotent. */
  async resume(): Promise<ScheduleInfo> {
    const now = this.parts.coordinator.now();
    const row = await changeSchedule(this.parts.store, this.name, now, (stored) => (stored.paused ? resumed(stored, now) : {}));
    this.changed();
    return infoOf(row);
  }

  /** Deletes it (its runs stay). */
  async remove(): Promise<void> {
    if (!(await this.parts.store.deleteSchedule(this.name))) throw new UnknownScheduleError(this.name);
    this.changed();
  }

  /** Its runs (ids `<name>:<tick time>`), newest first. */
  runs(filter: Omit<RunFilter, 'idPrefix'> = {}): Promise<RunSummary[]> {
    return this.parts.store.listRuns({ ...filter, idPrefix: `${this.name}:` });
  }
}
