/**
 * Hand-made commits for the adapter tests: a started one-node run and the
 * commits after it.
 */
import { createRun, emptyOutput, liveRun, runHeader, step } from '../../src/engine/index.js';
import type { StepCommit } from '../../src/store/port.js';

/** A one-node run, started: its creating commit (rev 1). */
export function startedRun(id: string, inputs: Record<string, string | number> = { x: 1 }): StepCommit {
  const retry = { limit: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000, jitter: 0.2 };
  const def = { id: 'a', kind: 'task' as const, name: 'a', bound: {}, requires: [], optional: [], provides: ['a'], persistent: false, rollback: false, retry, timeoutMs: 0, queue: 'default' };
  const run = createRun({ name: 'f', onFailure: 'halt', nodes: [def], links: [] }, { id, inputs, validate: true, now: 1 });
  const out = step(liveRun(run), { type: 'start' }, 2, emptyOutput());
  run.rev = 1;
  const outbox = out.commands.map((command, i) => ({ id: `${id}:1:${i}`, runId: id, dueAt: 2, command }));
  return structuredClone({ run: runHeader(run), expectedRev: 0, nodes: [...run.nodes.values()], removed: [], activations: [], history: out.history, outbox });
}

/** The commit after `commit`: same content, next revision, a new history entry whose actor is `marker`. */
export function nextOf(commit: StepCommit, marker: string): StepCommit {
  const rev = commit.run.rev + 1;
  const entry = { runId: commit.run.id, seq: 100 + rev, at: rev, type: 'change' as const, graphVersion: 1, actor: marker };
  return { ...structuredClone(commit), run: { ...commit.run, rev, updatedAt: rev }, expectedRev: commit.run.rev, history: [entry], outbox: [] };
}

/**
 * Like {@link nextOf}, marked as leaving the header as it was
 * (`headerChanged: false`), with new values of the header fields kept in
 * columns (status, graph version, seq, update time, rev).
 */
export function quietStepOf(commit: StepCommit, marker: string): StepCommit {
  const next = nextOf(commit, marker);
  return { ...next, headerChanged: false, run: { ...next.run, status: 'failed', graphVersion: next.run.graphVersion + 1, seq: next.run.seq + 5 } };
}
