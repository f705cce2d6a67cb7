/**
 * The store contract of cron schedules (part of `storeContract`): rows added
 * once per name, listed by name, changed by compare-and-set on their version
 * (fenced where the store elects coordinators), deleted.
 */
import { describe, expect, it } from 'vitest';
import type { ScheduleRow, Store } from '../../src/store/port.js';
import { freshStore, type StoreFactory } from './fresh-store.js';

/** A schedule row named `name` at `version`. */
function row(name: string, version = 1, extra: Partial<ScheduleRow> = {}): ScheduleRow {
  return {
    name,
    cron: '*/5 * * * *',
    timezone: 'Europe/Paris',
    flow: { name: 'nightly', onFailure: 'halt', nodes: [], links: [] },
    inputs: { region: 'eu', nested: { list: [1, null, 'grüß dich 😀'] } },
    overlap: 'skip',
    catchUp: 'latest',
    catchUpLimit: 10,
    paused: false,
    nextFireAt: 1_767_225_600_000,
    skipped: 0,
    createdAt: 1,
    updatedAt: 1,
    version,
    ...extra,
  };
}

/** Registers the schedule contract for the adapter made by `factory`. */
export function scheduleContract(factory: StoreFactory): void {
  describe('schedules', () => {
    let store: Store;
    freshStore(factory, (made) => {
      store = made;
    });

    it('adds a schedule once per name and lists them by name, as written', async () => {
      expect(await store.listSchedules()).toEqual([]);
      expect(await store.putSchedule(row('b'))).toBe(true);
      expect(await store.putSchedule(row('a', 1, { lastRunId: 'a:2026-01-01T00:00:00.000Z', lastFireAt: 5, nextFireAt: null }))).toBe(true);
      expect(await store.putSchedule(row('b', 1, { cron: '0 0 * * *' }))).toBe(false);
      const listed = await store.listSchedules();
      expect(listed.map((r) => r.name)).toEqual(['a', 'b']);
      expect(listed[0]).toEqual(row('a', 1, { lastRunId: 'a:2026-01-01T00:00:00.000Z', lastFireAt: 5, nextFireAt: null }));
      expect(listed[1]?.cron).toBe('*/5 * * * *');
    });

    it('changes a schedule only from the version it was read at (compare and set)', async () => {
      await store.putSchedule(row('s'));
      expect(await store.updateSchedule(row('s', 2, { paused: true }), 1)).toBe(true);
      expect(await store.updateSchedule(row('s', 2, { nextFireAt: 9 }), 1)).toBe(false); // a second writer from version 1 loses
      expect(await store.listSchedules()).toEqual([row('s', 2, { paused: true })]);
      expect(await store.updateSchedule(row('gone', 2), 1)).toBe(false);
      expect(await store.listSchedules()).toHaveLength(1);
    });

    it('deletes a schedule', async () => {
      await store.putSchedule(row('s'));
      expect(await store.deleteSchedule('s')).toBe(true);
      expect(await store.deleteSchedule('s')).toBe(false);
      expect(await store.listSchedules()).toEqual([]);
      expect(await store.putSchedule(row('s'))).toBe(true);
    });

    it('refuses a fenced change from a deposed leader (stores that elect coordinators)', async () => {
      if (store.tryLock === undefined) return;
      await store.putSchedule(row('s'));
      const first = await store.tryLock('schedules-test');
      expect(first).toBeDefined();
      expect(await store.updateSchedule(row('s', 2), 1, first?.fence)).toBe(true);
      await first?.release();
      const second = await store.tryLock('schedules-test');
      expect(second?.fence.epoch).toBeGreaterThan(first?.fence.epoch ?? 0);
      const refused = await store.updateSchedule(row('s', 3), 2, first?.fence).catch((error: unknown) => error);
      expect((refused as { code?: string }).code).toBe('TW_FENCED');
      expect((await store.listSchedules())[0]?.version).toBe(2);
      expect(await store.updateSchedule(row('s', 3), 2, second?.fence)).toBe(true);
      await second?.release();
    });
  });
}
