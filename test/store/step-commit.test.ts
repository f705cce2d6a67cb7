import { describe, expect, it } from 'vitest';
import { copyRun, createRun, emptyOutput, liveRun, step, type NodeState, type RunState } from '../../src/engine/index.js';
import { written } from '../../src/engine/step-context.js';
import { STABLE_FIELDS, stepCommit } from '../../src/store/step-commit.js';

const RETRY = { limit: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000, jitter: 0.2 };
const task = (id: string) => ({ id, kind: 'task' as const, name: id, bound: {}, requires: [], optional: [], provides: [id], persistent: false, rollback: false, retry: RETRY, timeoutMs: 0, queue: 'default' });

/** A started two-task run (a, b in parallel), committed once: its state at rev 1. */
function started(): RunState {
  const live = liveRun(createRun({ name: 'f', onFailure: 'halt', nodes: [task('a'), task('b')], links: [] }, { id: 'r1', inputs: { x: 1 }, validate: true, now: 1 }));
  const out = step(live, { type: 'start' }, 2, emptyOutput());
  live.state.rev = 1;
  expect(stepCommit(live.state, 0, out, []).headerChanged).toBe(true); // a new run: the whole header
  return live.state;
}

/** Steps `run` (in place) with a result of `node`; returns its commit from the run's revision. */
function succeed(run: RunState, node: string) {
  const out = step(liveRun(run), { type: 'task.succeeded', node, attempt: 1, result: node }, 3, emptyOutput());
  const expectedRev = run.rev;
  run.rev = expectedRev + 1;
  return stepCommit(run, expectedRev, out, []);
}

describe('stepCommit: whether the header changed', () => {
  it('is false for a step of the run object the previous commit was built from that changed only rev, status, graph version, seq and time', () => {
    const run = started();
    const commit = succeed(run, 'a');
    expect(commit.headerChanged).toBe(false);
    expect(commit.run).toMatchObject({ rev: 2, seq: run.seq, updatedAt: 3 });
    const last = succeed(run, 'b');
    expect([last.headerChanged, last.run.status]).toEqual([false, 'succeeded']);
  });

  it('is true when another header field changed (replaced, as the engine and the coordinator do)', () => {
    const run = started();
    run.eventIds = ['e1'];
    expect(succeed(run, 'a').headerChanged).toBe(true);
    run.stopped = true;
    expect(succeed(run, 'b').headerChanged).toBe(true);
  });

  it('is true when any one of the stable fields changed', () => {
    // startAt only ever goes with a status change (scheduled -> running), and a started run with one cannot be stepped.
    for (const key of (Object.keys(STABLE_FIELDS) as (keyof typeof STABLE_FIELDS)[]).filter((k) => k !== 'startAt')) {
      const run = started();
      (run as unknown as Record<string, unknown>)[key] = { replaced: key };
      expect([key, succeed(run, 'a').headerChanged]).toEqual([key, true]);
    }
  });

  it('is true for a run object no commit was built from (a fresh load), or whose last commit produced another revision', () => {
    const loaded = copyRun(started());
    expect(succeed(loaded, 'a').headerChanged).toBe(true);
    const run = started();
    run.rev = 5; // stepped from a revision its last commit (rev 1) did not produce
    expect(succeed(run, 'a').headerChanged).toBe(true);
  });
});

describe('stepCommit: which nodes have a changed definition or sources', () => {
  const ids = (commit: ReturnType<typeof succeed>) => commit.defs?.map((n) => n.def.id);

  it('lists every node of a new run, then none for steps of the same run object that changed only node states', () => {
    const live = liveRun(createRun({ name: 'f', onFailure: 'halt', nodes: [task('a'), task('b')], links: [] }, { id: 'r1', inputs: { x: 1 }, validate: true, now: 1 }));
    const out = step(live, { type: 'start' }, 2, emptyOutput());
    live.state.rev = 1;
    expect(stepCommit(live.state, 0, out, []).defs?.map((n) => n.def.id)).toEqual(['a', 'b']);
    expect(ids(succeed(live.state, 'a'))).toEqual([]);
    expect(ids(succeed(live.state, 'b'))).toEqual([]);
  });

  it('lists a node whose definition or sources were replaced', () => {
    const run = started();
    const a = run.nodes.get('a') as NodeState;
    a.def = { ...a.def, timeoutMs: 5 };
    expect(ids(succeed(run, 'a'))).toEqual(['a']);
    const b = run.nodes.get('b') as NodeState;
    b.sources = [...b.sources];
    expect(ids(succeed(run, 'b'))).toEqual(['b']);
  });

  it('lists every node of a run object no commit was built from, or whose last commit produced another revision', () => {
    expect(ids(succeed(copyRun(started()), 'a'))).toEqual(['a']);
    const run = started();
    run.rev = 5;
    expect(ids(succeed(run, 'a'))).toEqual(['a']);
  });

  it('lists a node removed and written again by one step, even with the same definition', () => {
    const run = started();
    const out = emptyOutput();
    written(out, 'removed').add('a');
    out.nodes.add('a');
    const expectedRev = run.rev;
    run.rev = expectedRev + 1;
    expect(stepCommit(run, expectedRev, out, []).defs?.map((n) => n.def.id)).toEqual(['a']);
  });
});
