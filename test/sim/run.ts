/**
 * `npm run sim`: the deterministic simulation of the whole runtime (see
 * docs/simulation.md).
 *
 *   npm run sim                          100 seeds from 1, every kind
 *   npm run sim -- --seeds 100000        a long run
 *   npm run sim -- --seed 42             one seed, with its trace
 *   npm run sim -- --skip crash,duplicate
 *   npm run sim -- --ci                  skip the kinds awaiting fixes in this mode (as the CI test)
 *   npm run sim -- --only remove-readd   as --ci, but with these kinds awaiting fixes on
 *   npm run sim -- --store sqlite
 *   npm run sim -- --store postgres      the local PostgreSQL (a schema per seed) and a real election
 *   npm run sim -- --store postgres --jobs 3   three seeds at a time (they wait on the server)
 *   npm run sim -- --mode embedded       one process with an in-process bus, SQLite, resume(), a CLI
 *   npm run sim -- --shards 4            every seed with 4 shards (else drawn per seed: 1, 2, 4 or 8)
 */
import { parseArgs } from 'node:util';
import { inLanes } from './lanes.js';
import { awaitingIn, parseKinds, type Kind } from './options.js';
import { simulate, type SeedReport } from './world.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    skip: { type: 'string', default: '' },
    ci: { type: 'boolean', default: false },
    only: { type: 'string' },
    store: { type: 'string', default: 'memory' },
    mode: { type: 'string', default: 'distributed' },
    verbose: { type: 'boolean', default: false },
    jobs: { type: 'string', default: '1' },
    shards: { type: 'string' },
  },
});

const only = parseKinds(values.only ?? '');
const mode = values.mode === 'embedded' ? 'embedded' : 'distributed';
const awaiting = values.ci || values.only !== undefined ? awaitingIn(mode).filter((k) => !only.includes(k)) : [];
const skip = new Set<Kind>([...parseKinds(values.skip), ...awaiting]);
const store = mode === 'embedded' ? 'sqlite' : values.store === 'sqlite' || values.store === 'postgres' ? values.store : 'memory';
const single = values.seed !== undefined;
const first = Number(values.seed ?? values.from);
const count = single ? 1 : Number(values.seeds);
const shards = values.shards === undefined ? undefined : Number(values.shards);

function print(report: SeedReport, withTrace: boolean): void {
  console.log(`seed ${report.seed}: ${report.violations.length} violation(s)`);
  for (const v of report.violations) console.log(`  - ${v}`);
  if (withTrace) {
    console.log(`  trace (last ${report.trace.length} lines):`);
    for (const line of report.trace) console.log(`    ${line}`);
  }
  if (withTrace && values.verbose) for (const line of report.histories) console.log(`    ${line}`);
  console.log(`  replay: npm run sim -- --seed ${report.seed}${skip.size > 0 ? ` --skip ${[...skip].join(',')}` : ''}${mode === 'embedded' ? ' --mode embedded' : store === 'memory' ? '' : ` --store ${store}`}${shards === undefined ? '' : ` --shards ${shards}`}`);
}

const failing: number[] = [];
const totals = { sharded: 0, executions: 0, reexecuted: 0, crashes: 0, steps: 0, elections: 0, refused: 0, refusedStarts: 0 };
const began = performance.now();
const seeds = Array.from({ length: count }, (_, i) => first + i);
await inLanes(seeds, Number(values.jobs), async (seed) => {
  const report = await simulate({ seed, skip, store, mode, ...(shards === undefined ? {} : { shards }) });
  totals.executions += report.stats.executions;
  if (report.stats.shards > 1) totals.sharded++;
  totals.reexecuted += report.stats.reexecuted;
  totals.crashes += report.stats.crashes;
  totals.steps += report.stats.steps;
  totals.elections += report.stats.election?.elections ?? 0;
  totals.refused += report.stats.election?.refused ?? 0;
  totals.refusedStarts += report.stats.refusedStarts ?? 0;
  if (report.violations.length > 0) {
    failing.push(seed);
    print(report, single || failing.length <= 3);
  } else if (single || values.verbose) {
    print(report, single && values.verbose);
  }
});
failing.sort((a, b) => a - b);
const seconds = ((performance.now() - began) / 1000).toFixed(1);
console.log(
  `${count} seed(s) from ${first} in ${seconds} s: ${failing.length} failing${failing.length > 0 ? ` (${failing.slice(0, 20).join(', ')}${failing.length > 20 ? ', ...' : ''})` : ''}; ` +
    `${totals.executions} executions (${totals.reexecuted} attempts executed more than once), ${totals.crashes} crashes, ${totals.steps} scheduler steps` +
    `, ${totals.sharded} seed(s) with several shards` +
    (totals.elections > 0 ? `, ${totals.elections} elections, ${totals.refused} commits refused TW_FENCED` : '') +
    (totals.refusedStarts > 0 ? `, ${totals.refusedStarts} process starts refused on private stores` : '') +
    (skip.size > 0 ? `; skipped: ${[...skip].join(', ')}` : ''),
);
process.exit(failing.length > 0 ? 1 : 0);
