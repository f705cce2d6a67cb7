/**
 * Load balancer: a persistent listener adds every new server to the pool. It
 * listens to the `server.created` event and runs once per notification, in the
 * order the notifications were recorded, each time with that server's IP.
 *
 * ```
 * npx tsx examples/load-balancer.ts      # embedded, in memory: notifies 5 servers, stops, prints the activations
 * taskwire run examples/load-balancer.ts # the flow (the default export); notify it with client.notify()
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, event, flow, task } from '../src/index.js';

/** Notified by whatever creates servers: `client.notify('server.created', { ip })`. */
export const serverCreated = event<{ ip: string }>('server.created', { provides: ['ip'] });

/** Registers one server in the pool (here: pretends to, after a short delay). */
export const addToLoadBalancer = task('addToLoadBalancer', {
  requires: ['ip'],
  apply: async ({ ip }: { ip: string }, { signal }) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    signal.throwIfAborted();
    return { pool: 'web', member: `${ip}:80` };
  },
});

const loadBalancer = flow('load-balancer');
loadBalancer.link(serverCreated, addToLoadBalancer.s({}, { persistent: true }));

export default loadBalancer;

/** Runs the flow embedded: five servers are created, then the run is stopped. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    const run = await tw.start(loadBalancer);
    console.log(`run ${run.id}: ${(await run.status()).status}`);
    for (let i = 1; i <= 5; i++) {
      const notified = await tw.notify('server.created', { ip: `10.0.0.${i}` });
      console.log(`server.created 10.0.0.${i} -> ${notified.length} run(s)`);
    }
    // stop: no new activations; those already started finish, then the run succeeds.
    console.log(`stop -> ${(await run.stop()).status}`);
    const done = await run.wait();
    console.log(`run ${done.status}`);
    for (const activation of await run.activations('addToLoadBalancer')) {
      console.log(`  activation ${activation.seq}: ${JSON.stringify(activation.inputs)} -> ${JSON.stringify(activation.result)} (${activation.status})`);
    }
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
