/**
 * Ambiguous commits: the connection drops during COMMIT (as a PostgreSQL
 * restart does), so the coordinator cannot tell whether the step was written.
 * It steps the event again from a fresh load; every client event carries an id
 * stored with the run, so that re-step is a no-op answering the original
 * outcome: one notify is one activation, an add is not refused as a duplicate,
 * a start is one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, event, flow, StoreError, task, type Client } from '../../src/index.js';
import type { StepCommit, Store } from '../../src/store/port.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { rejection } from '../api/helpers.js';

/** A store whose next commit matching `when` is written and then reported as failed. */
class AmbiguousStore {
  private when: ((commits: StepCommit[]) => boolean) | undefined;
  /** How many commits were written and then reported as failed. */
  ambiguous = 0;
  /** Run ids whose commits fail outright (nothing written). */
  readonly down = new Set<string>();

  constructor(readonly inner: Store) {}

  /** The wrapped store, with `commit` intercepted. */
  store(): Store {
    return Object.assign(Object.create(this.inner) as Store, {
      commit: async (commits: StepCommit[]) => {
        if (commits.some((c) => this.down.has(c.run.id))) throw new StoreError('connection refused');
        const result = await this.inner.commit(commits);
        if (this.when?.(commits) === true) {
          this.when = undefined;
          this.ambiguous++;
          throw new StoreError('Connection terminated unexpectedly (during COMMIT)');
        }
        return result;
      },
    });
  }

  /** Arms the next ambiguous commit. */
  next(when: (commits: StepCommit[]) => boolean): void {
    this.when = when;
  }
}

const has = (type: string) => (commits: StepCommit[]) => commits.some((c) => c.history.some((h) => h.type === type));

interface StoreFactory {
  name: string;
  skip: boolean;
  open(): Promise<{ store: Store; remove(): Promise<void> }>;
}

const FACTORIES: StoreFactory[] = [
  { name: 'memory', skip: false, open: async () => ({ store: new MemoryStore(), remove: async () => undefined }) },
  {
    name: 'sqlite',
    skip: false,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'taskwire-ambiguous-'));
      return { store: openSqliteStore({ path: join(dir, 'runs.db') }), remove: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: servicesSkipped(),
    open: async () => {
      const url = await requirePostgres();
      const schema = `tw_ambiguous_${randomBytes(6).toString('hex')}`;
      const { openPostgresStore } = await import('../../src/store/postgres/index.js');
      const store = await openPostgresStore({ url, schema });
      return {
        store,
        remove: async () => {
          const db = new pg.Client({ connectionString: url });
          await db.connect();
          await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await db.end();
        },
      };
    },
  },
];

const serverCreated = event('server.created');
const register = task('register', { requires: ['ip'], apply: ({ ip }: { ip: string }) => ip });
const a = task('amb-a', { apply: () => 1 });
const b = task('amb-b', { apply: () => 2 });

for (const factory of FACTORIES) {
  describe.skipIf(factory.skip)(`ambiguous commits [${factory.name}]`, () => {
    let client: Client | undefined;
    let remove: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await client?.close();
      await remove?.();
      client = undefined;
    });

    async function open(): Promise<AmbiguousStore> {
      const opened = await factory.open();
      remove = opened.remove;
      const wrapper = new AmbiguousStore(opened.store);
      client = await connect({ store: wrapper.store(), resume: false });
      return wrapper;
    }

    it('a notify whose commit is ambiguous is recorded once, one activation', async () => {
      const wrapper = await open();
      const tw = client as Client;
      const run = await tw.start(flow('listen').link(serverCreated, register.s({}, { persistent: true })));
      wrapper.next(has('event.notified'));
      expect(await tw.notify('server.created', { ip: '10.0.0.1' })).toEqual([run.id]);
      expect(wrapper.ambiguous).toBe(1);
      await run.stop();
      await run.wait({ timeoutMs: 10_000 });
      expect(await run.activations('register')).toHaveLength(1);
      expect((await run.history()).filter((e) => e.type === 'event.notified')).toHaveLength(1);
    });

    it('an add whose commit is ambiguous answers its outcome, not a duplicate error', async () => {
      const wrapper = await open();
      const tw = client as Client;
      const run = await tw.start(flow('grow').add(serverCreated));
      wrapper.next(has('change'));
      await expect(run.add(a.s())).resolves.toMatchObject({ graphVersion: 2 });
      expect(wrapper.ambiguous).toBe(1);
      expect((await run.history()).filter((e) => e.type === 'change')).toHaveLength(1);
      await run.stop();
      expect((await run.wait({ timeoutMs: 10_000 })).nodes['amb-a']).toMatchObject({ status: 'succeeded', attempt: 1 });
    });

    it('a start whose commit is ambiguous resolves with its one run; starting it again with its id is a no-op', async () => {
      const wrapper = await open();
      const tw = client as Client;
      wrapper.next((commits) => commits.some((c) => c.expectedRev === 0));
      const run = await tw.start(flow('once').link(a.s(), b.s()), {}, { id: 'run-once' });
      expect(wrapper.ambiguous).toBe(1);
      const again = await tw.start(flow('once').link(a.s(), b.s()), {}, { id: 'run-once' });
      expect(again.id).toBe(run.id);
      expect((await run.wait({ timeoutMs: 10_000 })).status).toBe('succeeded');
      expect((await tw.runs()).map((r) => r.id)).toEqual(['run-once']);
      expect((await run.history()).filter((e) => e.type === 'run.started')).toHaveLength(1);
      // Another flow under the same id is refused.
      expect((await rejection(tw.start(flow('other').add(b.s()), {}, { id: 'run-once' }))).code).toBe('TW_CONFLICT');
    });

    it('a notify that fails for some runs says which were notified and which not', async () => {
      const wrapper = await open();
      const tw = client as Client;
      const ok = await tw.start(flow('n-ok').link(serverCreated, register.s({}, { persistent: true })));
      const bad = await tw.start(flow('n-bad').link(serverCreated, register.s({}, { persistent: true })));
      wrapper.down.add(bad.id);
      const error = (await rejection(tw.notify('server.created', { ip: '10.0.0.2' }))) as unknown as { code: string; notified: string[]; failed: { runId: string }[]; message: string };
      expect(error.code).toBe('TW_PARTIAL');
      expect(error.notified).toEqual([ok.id]);
      expect(error.failed.map((f) => f.runId)).toEqual([bad.id]);
      expect(error.message).toContain(bad.id);
    });
  });
}
