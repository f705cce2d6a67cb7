/**
 * The CLI against a distributed run: a `taskwire worker` subprocess on RabbitMQ
 * and PostgreSQL, and `taskwire run`, read and change commands as subprocesses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { json, ROOT, taskwire, type Result } from './helpers.js';

describe.skipIf(servicesSkipped())('the CLI on a distributed run', () => {
  const suffix = randomUUID().slice(0, 8);
  const space = { prefix: `twcli-${suffix}`, schema: `tw_cli_${suffix}` };
  let env: Record<string, string> = {};
  let worker: ChildProcess | undefined;
  let runId = '';
  let workerLog = '';
  const tw = (args: string[]): Promise<Result> => taskwire(args, { env });

  beforeAll(async () => {
    // Message signing on for every process: the worker, and each command's client and coordinator (docs/security.md).
    const signing = { TASKWIRE_SIGNING_KEY: `cli-test-signing-key-${randomUUID()}` };
    env = { TASKWIRE_BROKER_URL: await requireRabbit(), TASKWIRE_STORE_URL: await requirePostgres(), TASKWIRE_PREFIX: space.prefix, TASKWIRE_SCHEMA: space.schema, ...signing };
    worker = spawn(process.execPath, [join(ROOT, 'bin/taskwire.js'), 'worker', '--tasks', 'examples/seed.ts', '--announce', 'all'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((ready, fail) => {
      let seen = '';
      worker?.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        workerLog = seen;
        if (seen.includes('"msg":"ready"')) ready();
      });
      worker?.on('exit', (code) => fail(new Error(`worker exited (${code}): ${seen}`)));
    });
  });

  it('signs and verifies its messages', () => {
    expect(workerLog).toMatch(/"signing":true/);
  });

  it('announces what --announce asks for, and refuses a mode it does not know', async () => {
    expect(workerLog).toMatch(/"announce":"all"/);
    const refused = await tw(['worker', '--tasks', 'examples/seed.ts', '--announce', 'every']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("'--announce <mode>' argument 'every' is invalid. Allowed choices are outcomes, all.");
  });

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await new Promise((resolve) => (worker?.exitCode === null ? worker.once('exit', resolve) : resolve(undefined)));
    await dropTestSpace(space);
  });

  it('runs the seed on the workers: mult = 9, exit 0', async () => {
    const result = await tw(['run', 'examples/seed.ts', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as { id: string; status: string; nodes: Record<string, { result?: unknown }> };
    expect(run.status).toBe('succeeded');
    expect(run.nodes['mult']?.result).toBe(9);
    runId = run.id;
  });

  it('reads the run from PostgreSQL: runs, show, history, tasks', async () => {
    const runs = json<{ id: string }[]>(await tw(['runs', '--json']));
    expect(runs.map((r) => r.id)).toContain(runId);
    expect((await tw(['show', runId])).stdout).toMatch(/mult\s+succeeded/);
    const history = json<{ type: string }[]>(await tw(['history', runId, '--json']));
    expect(history.map((e) => e.type)).toContain('node.succeeded');
    expect((await tw(['tasks'])).stdout).toContain('mult');
  });

  it('lists the worker subprocess from PostgreSQL (taskwire workers), and the catalog names it for each of its tasks', async () => {
    const workers = json<{ id: string; pid: number; tasks: string[]; running: unknown[]; stale: boolean }[]>(await tw(['workers', '--json']));
    expect(workers).toEqual([expect.objectContaining({ pid: worker?.pid, tasks: ['add', 'mult'], running: [], stale: false })]);
    const id = workers[0]?.id ?? '';
    expect((await tw(['workers'])).stdout).toMatch(new RegExp(`^WORKER.*\\n${id}\\s`));
    const tasks = json<{ name: string; workers: string[] }[]>(await tw(['tasks', '--json']));
    expect(tasks.map((t) => [t.name, t.workers])).toEqual([
      ['add', [id]],
      ['mult', [id]],
    ]);
  });

  it('changes the run from the terminal: a node added by task name runs on the workers', async () => {
    const added = await tw(['add', runId, 'mult2', '--task', 'mult', '--bound', '{"y": 10}', '--source', 'add']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('graph version 2');
    let value: unknown;
    for (let i = 0; i < 50 && value === undefined; i++) {
      const snapshot = json<{ nodes: Record<string, { result?: unknown }> }>(await tw(['show', runId, '--json']));
      value = snapshot.nodes['mult2']?.result;
      if (value === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(value).toBe(30);
    const refused = await tw(['link', runId, 'mult2', 'add']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('TW_CYCLE');
  });
});
