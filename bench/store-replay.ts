/**
 * The SQLite store's share of W3, measured apart from the rest of the runtime:
 * the `StepCommit`s of one W3 run (N runs a → b → c started at once) are
 * captured from a real embedded run, then replayed into fresh SQLite files,
 * and the CPU time of the commits is reported (creation batches and step
 * batches apart). Given other source trees (`--against`), their stores replay
 * the same commits, interleaved with this tree's in one process: on a loaded
 * machine that is the comparison the bench's wall times cannot give. See
 * docs/benchmarks.md ("Embedded SQLite").
 *
 *   npx tsx bench/store-replay.ts
 *   git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
 *   npx tsx bench/store-replay.ts --against /tmp/base --rounds 6
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, flow } from '../src/index.js';
import type { StepCommit, Store } from '../src/store/port.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { median } from './stats.js';
import { inc } from './tasks.js';

type OpenStore = (options: { path: string }) => Store;

const { values: opt } = parseArgs({
  options: {
    chains: { type: 'string', default: '1000' },
    replays: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    against: { type: 'string', default: '' },
  },
});
const chains = Number(opt.chains);
const replays = Number(opt.replays);
const rounds = Number(opt.rounds);

/** The batches of commits of one W3 run of `chains` chains, as the coordinator handed them to the store (copies). */
async function capture(dir: string): Promise<StepCommit[][]> {
  const store = openSqliteStore({ path: join(dir, 'capture.db') });
  const batches: StepCommit[][] = [];
  const commit = store.commit.bind(store);
  store.commit = (commits: StepCommit[]) => {
    batches.push(structuredClone(commits));
    return commit(commits);
  };
  const tw = await connect({ store, concurrency: 16 });
  const flows = Array.from({ length: chains }, (_, i) => {
    const a = inc.s({ v: i }, { id: 'a' });
    const b = inc.s({}, { id: 'b' });
    return flow('bench-throughput').link(a, b).link(b, inc.s({}, { id: 'c' }));
  });
  const handles = await Promise.all(flows.map((f, i) => tw.start(f, {}, { id: `replay-${i}` })));
  await Promise.all(handles.map((h) => h.wait()));
  await tw.close();
  return batches;
}

/** `batches` with every run id suffixed (a replay into a file that already holds the previous replays' runs). */
function renamed(batches: StepCommit[][], suffix: string): StepCommit[][] {
  return batches.map((batch) =>
    batch.map((c) => {
      const id = `${c.run.id}${suffix}`;
      const history = c.history.map((entry) => ({ ...entry, runId: id }));
      const outbox = c.outbox.map((item) => ({ ...item, runId: id, id: `${id}${item.id.slice(c.run.id.length)}` }));
      return { ...c, run: { ...c.run, id }, history, outbox };
    }),
  );
}

/** CPU ms of `store.commit` over `batches`: [creation batches, step batches]. */
async function replay(store: Store, batches: StepCommit[][]): Promise<[number, number]> {
  let create = 0;
  let steps = 0;
  for (const batch of batches) {
    const c0 = process.cpuUsage();
    const { conflicts } = await store.commit(batch);
    const d = process.cpuUsage(c0);
    if (conflicts.length > 0) throw new Error(`replay: ${conflicts.length} conflicts`);
    if (batch[0]?.expectedRev === 0) create += (d.user + d.system) / 1000;
    else steps += (d.user + d.system) / 1000;
  }
  return [create, steps];
}

const dir = mkdtempSync(join(tmpdir(), 'tw-replay-'));
try {
  const stores: [string, OpenStore][] = [['this tree', openSqliteStore]];
  for (const tree of opt.against.split(',').filter(Boolean)) {
    const module = (await import(resolve(tree, 'src/store/sqlite/index.ts'))) as { openSqliteStore: OpenStore };
    stores.push([tree, module.openSqliteStore]);
  }
  const batches = await capture(dir);
  const commits = batches.reduce((n, b) => n + b.length, 0);
  console.error(`[replay] ${chains} chains: ${commits} commits in ${batches.length} batches; ${rounds} rounds x ${replays} replays (the first of each round unreported)`);
  const times = new Map<string, { total: number[]; create: number[]; steps: number[] }>(stores.map(([name]) => [name, { total: [], create: [], steps: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, open] of stores) {
      const path = join(dir, `r${round}.db`);
      const store = open({ path });
      for (let r = 0; r < replays; r++) {
        const [create, steps] = await replay(store, renamed(batches, `-${r}`));
        const t = times.get(name) as { total: number[]; create: number[]; steps: number[] };
        if (r === 0) continue;
        t.total.push(create + steps);
        t.create.push(create);
        t.steps.push(steps);
      }
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    }
  }
  const ms = (xs: number[]) => `${median(xs).toFixed(1)} (min ${Math.min(...xs).toFixed(1)})`;
  for (const [name, t] of times) console.log(`${name}: commits of one W3 run ${ms(t.total)} CPU ms; creation batches ${ms(t.create)}, step batches ${ms(t.steps)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
