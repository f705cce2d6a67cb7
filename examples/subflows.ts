/**
 * Subflows: a `payment` flow used as one node of a `checkout` flow. Its nodes
 * run as `payment/reserve` and `payment/charge`; its own policy (`rollback`)
 * compensates the stock it reserved when the charge fails, and `retry: 2`
 * runs the whole payment again, up to twice (here the card goes through on
 * the second try).
 *
 * ```
 * npx tsx examples/subflows.ts      # embedded, in memory: prints each scope attempt and the nodes
 * taskwire run examples/subflows.ts # the flow (the default export), nested in `taskwire show`
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, flow, NonRetryableError, task } from '../src/index.js';

let charges = 0;

/** Holds the items for the order; its rollback puts them back. */
export const reserve = task('reserve', {
  requires: ['items'],
  provides: ['reservation'],
  apply: ({ items }: { items: string[] }) => `rsv-${items.length}`,
  rollback: (_inputs, { result }) => `released ${String(result)}`,
});

/** Charges the card: declined the first time. */
export const charge = task('charge', {
  requires: ['reservation', 'amount'],
  provides: ['receipt'],
  apply: ({ reservation, amount }: { reservation: string; amount: number }) => {
    if (++charges === 1) throw new NonRetryableError('card declined');
    return `paid ${amount} for ${reservation}`;
  },
});

/** Sends the receipt the payment provided. */
export const email = task('email', { requires: ['receipt'], apply: ({ receipt }: { receipt: string }) => `sent "${receipt}"` });

/** The payment, a flow of its own: it compensates itself when it fails. */
export const payment = flow('payment', { onFailure: 'rollback' }).link(reserve.s(), charge.s());

const pay = payment.s({ amount: 42 }, { id: 'payment', retry: 2 });
const checkout = flow('checkout').link(pay, email.s());

export default checkout;

/** Runs the checkout embedded with `items` as its input. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    const run = await tw.start(checkout, { items: ['book', 'pen'] });
    const done = await run.wait();
    console.log(`run ${done.status}`);
    for (const entry of await run.history()) {
      if (entry.type.startsWith('scope.') || entry.type === 'rollback.succeeded') console.log(`  ${entry.type} ${entry.node ?? ''} ${entry.attempt ?? ''}`.trimEnd());
    }
    for (const node of Object.values(done.nodes)) console.log(`  ${node.id}: ${node.status} ${JSON.stringify(node.result)}`);
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
