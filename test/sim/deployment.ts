/**
 * `private-stores` (issue 8, defect 15): the deployment `connect()` refuses,
 * `TASKWIRE_BROKER_URL` set beside a store only one process can see (a SQLite
 * file, `store: 'memory'`). In a tenth of the distributed seeds on the memory
 * and SQLite stores (a draw of its own stream, so other seeds keep theirs), the
 * seed's world is built a second time with every process, the client's too,
 * on a store of its own, and each passes connect()'s deployment check
 * (`checkDeployment`) before it starts. `private-store-refused`: each is
 * refused with `TW_CONFIG`. Were they admitted, every coordinator would step
 * signals against its own store, and the runs the client starts would be
 * stepped by nobody who can see them (the liveness check finds them stranded).
 */
import { checkDeployment } from '../../src/runtime/deployment.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/port.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Kind } from './options.js';
import type { SimProcess } from './scheduler.js';
import type { SeedReport } from './world.js';

/** The share of the distributed seeds (memory and SQLite stores) run again on private stores. */
export const PRIVATE_STORES_SHARE = 0.1;

/** One process's start: admitted (`started`), or refused with this code. */
interface Admission {
  process: string;
  store: string;
  outcome: string;
}

/** The private stores of one world, and the answers of the deployment check. */
export class PrivateStores {
  private readonly admissions: Admission[] = [];
  private readonly opened: Store[] = [];

  /** `kind`: the adapter every process opens on its own; `log`: the trace. */
  constructor(
    private readonly kind: 'memory' | 'sqlite',
    private readonly log: (line: string) => void,
  ) {}

  /** How many processes were refused (with any error). */
  get refusals(): number {
    return this.admissions.filter((a) => a.outcome !== 'started').length;
  }

  /** A new store, seen by one process only (it dies with the world). */
  open(): Store {
    const store = this.kind === 'sqlite' ? new SqliteStore({ path: ':memory:' }) : new MemoryStore();
    this.opened.push(store);
    return store;
  }

  /** Whether `process` may start on `store`, as connect() judges it with a broker set; the answer is recorded. */
  admit(process: SimProcess, store: Store): boolean {
    try {
      checkDeployment({ distributed: true, store, brokerFromOption: false });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.admissions.push({ process: process.name, store: store.kind, outcome: typeof code === 'string' ? code : String(error) });
      this.log(`${process.name} refused to start: ${String(code)} ${(error as Error).message.slice(0, 160)}`);
      return false;
    }
    this.admissions.push({ process: process.name, store: store.kind, outcome: 'started' });
    this.log(`${process.name} passed the deployment check on a ${store.kind} store of its own`);
    return true;
  }

  /** `private-store-refused`: every process (the client too) was refused with `TW_CONFIG`. */
  violations(skip: ReadonlySet<Kind>): string[] {
    if (skip.has('private-store-refused')) return [];
    if (this.admissions.length === 0) return ['private-store-refused: no process passed the deployment check'];
    const started = this.admissions.filter((a) => a.outcome === 'started');
    const problems = this.admissions.filter((a) => a.outcome !== 'started' && a.outcome !== 'TW_CONFIG').map((a) => `private-store-refused: ${a.process} was refused with ${a.outcome}, not TW_CONFIG`);
    if (started.length > 0) {
      problems.unshift(`private-store-refused: ${started.map((a) => a.process).join(', ')} started with a broker, each on a ${started[0]?.store} store only it can see (no other process sees its runs)`);
    }
    return problems;
  }

  /** Closes the stores opened. */
  async close(): Promise<void> {
    for (const store of this.opened) await store.close();
  }
}

/** A seed's report with that of its run on private stores: violations (marked) and histories of both, the trace of those that failed, counts added. */
export function withPrivateStores(report: SeedReport, again: SeedReport): SeedReport {
  const mark = (line: string): string => `private stores: ${line}`;
  const failed = again.violations.length > 0;
  return {
    seed: report.seed,
    violations: [...report.violations, ...again.violations.map(mark)],
    trace: failed ? [...(report.violations.length > 0 ? report.trace : []), '--- the seed again, each process on a store of its own (private-stores) ---', ...again.trace] : report.trace,
    histories: [...report.histories, ...again.histories.map(mark)],
    stats: {
      ...report.stats,
      executions: report.stats.executions + again.stats.executions,
      reexecuted: report.stats.reexecuted + again.stats.reexecuted,
      crashes: report.stats.crashes + again.stats.crashes,
      steps: report.stats.steps + again.stats.steps,
      refusedStarts: again.stats.refusedStarts ?? 0,
    },
  };
}
