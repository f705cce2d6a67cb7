/**
 * `taskwire schedules` (add, list, pause, resume, rm) on a SQLite file, a
 * `taskwire serve` firing a schedule's ticks, and `taskwire run --delay / --at`.
 * Subprocesses on one file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleInfo } from '../../src/client/schedules.js';
import { IMPORT_API, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;
let file: string;

beforeAll(() => {
  box = sandbox();
  file = box.write(
    'report.ts',
    `${IMPORT_API('flow, task')}
export const inputs = { region: 'eu' };
export const report = task('report', { requires: ['region'], apply: ({ region }: { region: string }) => 'report for ' + region });
export default flow('report').add(report.s());
`,
  );
});
afterAll(() => box.remove());

describe('taskwire schedules [sqlite]', () => {
  it('adds, lists, pauses, resumes and removes a schedule; refuses a bad one naming it', { timeout: 120_000 }, async () => {
    const added = await box.tw(['schedules', 'add', 'nightly', '0 2 * * *', file, '--timezone', 'Europe/Paris', '-i', 'region="us"', '--catch-up', 'latest']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^schedule nightly saved: 0 2 \* \* \* \(Europe\/Paris\), next tick \d{4}-\d\d-\d\dT0[01]:00:00\.000Z\n$/);
    const [listed] = json<ScheduleInfo[]>(await box.tw(['schedules', '--json']));
    expect(listed).toMatchObject({ name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Paris', inputs: { region: 'us' }, catchUp: 'latest', overlap: 'skip', paused: false });
    expect(listed?.flow.name).toBe('report');
    const table = (await box.tw(['schedules'])).stdout;
    expect(table).toMatch(/^SCHEDULE\s+CRON\s+TIMEZONE\s+FLOW\s+STATE\s+NEXT TICK/);
    expect(table).toMatch(/\nnightly\s+0 2 \* \* \*\s+Europe\/Paris\s+report\s+active\s+\d{4}-/);

    expect((await box.tw(['schedules', 'pause', 'nightly'])).stdout).toBe('schedule nightly paused: 0 2 * * * (Europe/Paris), paused\n');
    expect((await box.tw(['schedules'])).stdout).toMatch(/\nnightly\s+.*\s+paused\s+-\s+/);
    expect((await box.tw(['schedules', 'resume', 'nightly'])).stdout).toMatch(/^schedule nightly resumed: .*next tick /);
    expect((await box.tw(['schedules', 'rm', 'nightly'])).stdout).toBe('schedule nightly removed\n');
    expect((await box.tw(['schedules'])).stdout).toBe('no schedules\n');

    const unknown = await box.tw(['schedules', 'pause', 'nightly']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('taskwire: unknown schedule "nightly" (TW_UNKNOWN_SCHEDULE)\n');
    const bad = await box.tw(['schedules', 'add', 'nightly', 'at two', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^taskwire: schedule "nightly": invalid cron "at two"/);
    const badPolicy = await box.tw(['schedules', 'add', 'nightly', '0 2 * * *', file, '--overlap', 'queue']);
    expect(badPolicy.stderr).toMatch(/--overlap expected one of allow, skip, got "queue"/);
  });

  it('taskwire serve fires the ticks: one run per tick, named after it', { timeout: 120_000 }, async () => {
    expect((await box.tw(['schedules', 'add', 'every2s', '*/2 * * * * *', file])).code).toBe(0);
    const serve = box.start(['serve', '--tasks', file]);
    try {
      let runs: { id: string; status: string }[] = [];
      for (let i = 0; i < 300 && runs.filter((r) => r.status === 'succeeded').length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        runs = json(await box.tw(['runs', '--json']));
      }
    } finally {
      serve.child.kill('SIGTERM');
      await serve.result;
    }
    const ticks = json<{ id: string; status: string }[]>(await box.tw(['runs', '--json'])).map((r) => r.id);
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const id of ticks) expect(id).toMatch(/^every2s:\d{4}-\d\d-\d\dT\d\d:\d\d:\d[02468]\.000Z$/);
    const [info] = json<ScheduleInfo[]>(await box.tw(['schedules', '--json']));
    expect(info?.lastRunId).toBe(ticks[0]);
  });

  it('taskwire run --delay starts the run later; --at and --delay together are refused', { timeout: 120_000 }, async () => {
    const asked = Date.now();
    const later = await box.tw(['run', file, '--delay', '2s', '--json']);
    expect(later.code).toBe(0);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(2000);
    const both = await box.tw(['run', file, '--delay', '2s', '--at', new Date().toISOString()]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give at or delayMs, not both/);
    const badAt = await box.tw(['run', file, '--at', 'tomorrow']);
    expect(badAt.stderr).toMatch(/--at expected an ISO 8601 time/);
  });
});
