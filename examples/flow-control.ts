/**
 * Flow control: at most 2 `charge` at once for one customer, whatever runs,
 * workers and coordinators there are; a rate limit on `notify`; and an urgent
 * charge marked `high`, which goes before the charges of its customer waiting
 * at the limit.
 *
 * ```
 * npx tsx examples/flow-control.ts      # embedded, in memory: prints the most charges seen at once per customer
 * taskwire run examples/flow-control.ts # the flow (the default export): throttled nodes in the progress and in `taskwire show`
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, flow, task } from '../src/index.js';

const running = new Map<string, number>();
const most = new Map<string, number>();

/** Charges a customer: at most 2 at once per customer (the `customer` input is the limit's key). */
export const charge = task('charge', {
  requires: ['customer', 'amount'],
  limit: { concurrency: 2, key: 'customer' },
  apply: async ({ customer, amount }: { customer: string; amount: number }) => {
    running.set(customer, (running.get(customer) ?? 0) + 1);
    most.set(customer, Math.max(most.get(customer) ?? 0, running.get(customer) ?? 0));
    await new Promise((resolve) => setTimeout(resolve, 20));
    running.set(customer, (running.get(customer) ?? 1) - 1);
    return `charged ${customer} ${amount}`;
  },
});

/** Tells the customer: at most 5 notifications a second. */
export const notify = task('notify', { requires: ['customer'], rate: { count: 5, perMs: 1000 }, apply: ({ customer }: { customer: string }) => `told ${customer}` });

const billing = flow('billing');
for (let i = 1; i <= 4; i++) billing.add(charge.s({ customer: 'ann', amount: i * 10 }, { id: `ann-${i}` }));
for (let i = 1; i <= 2; i++) billing.add(charge.s({ customer: 'bob', amount: i * 10 }, { id: `bob-${i}` }));
billing.add(charge.s({ customer: 'ann', amount: 99 }, { id: 'ann-urgent', priority: 'high' }));
billing.add(notify.s({ customer: 'ann' }, { id: 'tell-ann' }), notify.s({ customer: 'bob' }, { id: 'tell-bob' }));

export default billing;

/** Runs the billing embedded, then prints the most charges seen at once per customer. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    const run = await tw.start(billing, {});
    const done = await run.wait();
    console.log(`run ${done.status}`);
    const history = await run.history();
    console.log(`  ${history.filter((entry) => entry.type === 'node.throttled').length} executions waited at a limit`);
    const ann = history.filter((entry) => entry.type === 'gate.admitted' && entry.node?.startsWith('ann-') === true).map((entry) => entry.node);
    console.log(`  ann's charges went in this order: ${ann.join(', ')}`);
    for (const [customer, n] of most) console.log(`  at most ${n} charges at once for ${customer}`);
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
