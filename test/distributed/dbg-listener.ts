import { Cluster, until } from './harness.js';
import { listenerFlow, SERVER_CREATED } from '../fixtures/fault-tasks.js';
const cluster = await Cluster.create();
try {
  const t0 = Date.now();
  await cluster.workers(3, { concurrency: 8 });
  console.log('ready after', Date.now() - t0);
  const tw = await cluster.client();
  const listener = await tw.start(listenerFlow('listener', 0));
  await until(async () => (await listener.status()).status === 'listening', 'listening', 30000);
  for (let k = 0; k < 10; k++) console.log(await tw.notify(SERVER_CREATED, { ip: `10.0.0.${k}` }));
  await new Promise((r) => setTimeout(r, 5000));
  console.log(JSON.stringify(await listener.activations('listener'), null, 0));
  console.log(JSON.stringify((await listener.status()).nodes, null, 0));
  console.log((await listener.history()).map((e) => `${e.seq} ${e.type} ${e.node ?? ''} ${e.attempt ?? ''} ${e.activation ?? ''}`).join('\n'));
  console.log(cluster.records().length);
  for (const p of cluster.processes) console.log(p.lines.filter((l) => !l.includes('"level":30')).slice(0, 20).join('\n'));
} finally {
  await cluster.cleanup();
}
