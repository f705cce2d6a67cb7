/**
 * Crash and resume, embedded on SQLite: a process running a flow is killed with
 * SIGKILL mid-run; a second process connecting to the same file resumes the run.
 * Finished work is not redone; the task running at the kill runs again
 * (at-least-once), with its attempt number visible.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeValue, type NodeStatus } from '../../src/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { STEPS } from '../fixtures/slow-flow.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = join(ROOT, 'test/fixtures/slow-flow.ts');

type Child = ChildProcessByStdio<null, Readable, Readable>;

interface RecordLine {
  node: string;
  attempt: number;
  pid: number;
}

function spawnFixture(args: string[]): { child: Child; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Polls `ready` every few milliseconds until it returns a value; fails after `timeoutMs` with `describe()`. */
async function until<T>(ready: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = ready();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function readRecord(path: string): RecordLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [node = '', attempt = '', pid = ''] = line.split(' ');
      return { node, attempt: Number(attempt), pid: Number(pid) };
    });
}

async function nodeStates(db: string, runId: string): Promise<{ status: string; nodes: Map<string, { status: NodeStatus; attempt: number; result: unknown }>; history: string[] }> {
  const store = openSqliteStore({ path: db });
  try {
    const run = await store.loadRun(runId);
    if (run === undefined) throw new Error(`run ${runId} is not in ${db}`);
    const nodes = new Map([...run.nodes.values()].map((n) => [n.def.id, { status: n.status, attempt: n.attempt, result: n.result === undefined ? undefined : decodeValue(n.result) }]));
    const history = (await store.history(runId)).map((e) => e.type);
    return { status: run.status, nodes, history };
  } finally {
    await store.close();
  }
}

describe('crash and resume [embedded-sqlite]', () => {
  let dir: string;
  const children: Child[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskwire-resume-'));
  });

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a run killed mid-task resumes at connect in a new process, without redoing finished tasks', { timeout: 60_000 }, async () => {
    const db = join(dir, 'runs.db');
    const record = join(dir, 'record.log');

    const first = spawnFixture(['start', db, record]);
    children.push(first.child);
    const firstPid = first.child.pid as number;
    const runId = await until(() => first.stdout().split('\n')[0]?.trim() || undefined, 20_000, () => `no run id from the first child; stderr: ${first.stderr()}`);
    await until(() => (readRecord(record).length >= 2 ? true : undefined), 20_000, () => `the first child did not finish 2 tasks; stderr: ${first.stderr()}`);
    process.kill(firstPid, 'SIGKILL');
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    // What the store held at the kill.
    const atKill = await nodeStates(db, runId);
    const beforeKill = readRecord(record);
    expect(beforeKill.every((line) => line.pid === firstPid)).toBe(true);
    const succeededAtKill = STEPS.filter((id) => atKill.nodes.get(id)?.status === 'succeeded');
    const runningAtKill = STEPS.filter((id) => atKill.nodes.get(id)?.status === 'running');
    expect(atKill.status).toBe('running');
    expect(succeededAtKill.length).toBeGreaterThanOrEqual(1);
    expect(runningAtKill).toHaveLength(1); // a chain: exactly one task was in flight
    const interrupted = runningAtKill[0] as string;
    const interruptedAttempt = atKill.nodes.get(interrupted)?.attempt as number;
    expect(interruptedAttempt).toBeGreaterThanOrEqual(1);

    // A new process connects to the same file: the run resumes there.
    const second = spawnFixture(['resume', db, record, runId]);
    children.push(second.child);
    const secondPid = second.child.pid as number;
    const code = await second.exited;
    expect(code, `second child failed; stderr: ${second.stderr()}`).toBe(0);
    expect(JSON.parse(second.stdout().trim())).toEqual({ status: 'succeeded' });

    const final = await nodeStates(db, runId);
    expect(final.status).toBe('succeeded');
    for (const id of STEPS) expect(final.nodes.get(id)?.status, id).toBe('succeeded');
    expect(final.nodes.get('step6')?.result).toBe(6);
    expect(final.history).toContain('run.resumed');

    const lines = readRecord(record);
    const byNode = (id: string): RecordLine[] => lines.filter((line) => line.node === id);
    for (const id of STEPS) expect(byNode(id).length, `record lines of ${id}`).toBeGreaterThanOrEqual(1);
    // Finished and recorded as succeeded before the kill: never ran again.
    for (const id of succeededAtKill) expect(byNode(id), id).toEqual([{ node: id, attempt: 1, pid: firstPid }]);
    // Running at the kill: ran again in the new process, same attempt (at-least-once).
    expect(byNode(interrupted).filter((line) => line.pid === secondPid)).toEqual([{ node: interrupted, attempt: interruptedAttempt, pid: secondPid }]);
    expect(final.nodes.get(interrupted)?.attempt).toBe(interruptedAttempt);
    // Not started before the kill: ran once, in the new process.
    for (const id of STEPS.filter((s) => !succeededAtKill.includes(s) && s !== interrupted)) {
      expect(byNode(id), id).toEqual([{ node: id, attempt: 1, pid: secondPid }]);
    }
  });
});
