/**
 * Starting runs later: one run of a sales report flow started a second from now
 * (`delayMs`, `scheduled` until then), and a cron schedule starting it every two
 * seconds (a real one would say `0 2 * * *` with `timezone: 'Europe/Paris'`),
 * each tick one run named after its tick; paused, then removed. The file's default export is the
 * flow, so the CLI can run it once or schedule it on a store.
 *
 * ```
 * npx tsx examples/cron.ts                       # embedded, in memory: the delayed run, three ticks, their runs, the schedule's state
 * taskwire run examples/cron.ts                  # the flow once
 * taskwire schedules add nightly '0 2 * * *' examples/cron.ts --timezone Europe/Paris   # then `taskwire serve --tasks examples/cron.ts` fires it
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, flow, task } from '../src/index.js';

/** Totals the day's sales of a region (made-up figures). */
export const sales = task('sales', {
  requires: ['region'],
  apply: ({ region }: { region: string }) => ({ region, orders: region.length * 7, revenue: region.length * 1234 }),
});

/** Formats the report. */
export const report = task('report', {
  requires: ['sales'],
  apply: ({ sales: totals }: { sales: { region: string; orders: number; revenue: number } }) => `${totals.region}: ${totals.orders} orders, ${totals.revenue} EUR`,
});

/** Default flow input. */
export const inputs = { region: 'eu' };

const salesReport = flow('sales-report').link(sales.s(), report.s());

export default salesReport;

/** Starts one report a second later; schedules the report every two seconds, embedded, until three ticks have run; then pauses and removes the schedule. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    // One run later (Celery's countdown, BullMQ's delay): stored now, `scheduled` until its time.
    const later = await tw.start(salesReport, { region: 'us' }, { delayMs: 1000 });
    console.log(`${later.id}: ${(await later.status()).status}`);
    const schedule = await tw.schedule('sales-every-2s', '*/2 * * * * *', salesReport, inputs, { overlap: 'skip', catchUp: 'latest' });
    console.log(`next tick ${new Date((await schedule.info()).nextFireAt ?? 0).toISOString()}`);
    while ((await schedule.runs()).length < 3) await new Promise((resolve) => setTimeout(resolve, 200));
    await schedule.pause();
    for (const run of (await schedule.runs()).reverse()) {
      const done = await tw.run(run.id).wait();
      console.log(`${run.id}: ${done.status} ${JSON.stringify(await tw.run(run.id).result('report'))}`);
    }
    console.log(`${later.id}: ${(await later.wait()).status} ${JSON.stringify(await later.result('report'))}`);
    const info = await schedule.info();
    console.log(`paused: ${info.paused}, last run ${info.lastRunId ?? '-'}, skipped ${info.skipped}`);
    await schedule.remove();
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
