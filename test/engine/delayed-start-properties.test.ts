/**
 * Property test of delayed starts (`start(..., { at | delayMs })`): a run
 * created with a start time, then a random sequence of what can reach it
 * before and after that time (its due timer, early or duplicated, resumes
 * after a restart, a cancel, signals of nothing). Nothing is dispatched before
 * the start; the run starts at most once, and only when due and not cancelled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRun } from '../../src/engine/create.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { liveRun } from '../../src/engine/live.js';
import { step } from '../../src/engine/step.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';

type Action = { at: number; event: EngineEvent };

const START_AT = 5_000;

const actionArb: fc.Arbitrary<Action> = fc.record({
  at: fc.integer({ min: 1_000, max: 9_000 }),
  event: fc.constantFrom<EngineEvent>({ type: 'start.due' }, { type: 'resume' }, { type: 'change', change: { op: 'cancel' }, actor: 'alice' }, { type: 'task.succeeded', node: 'a', attempt: 1, result: 1 }),
});

describe('delayed start (property)', () => {
  it('dispatches nothing before its time, starts at most once, never once cancelled', () => {
    const definition = flow('later').link(task('a', { apply: () => 1 }).s(), task('b', { requires: ['a'], apply: () => 2 }).s()).definition();
    fc.assert(
      fc.property(fc.array(actionArb, { maxLength: 12 }), (actions) => {
        const live = liveRun(createRun(definition, { id: 'r', inputs: {}, validate: true, now: 1_000, startAt: START_AT }));
        const first = step(live, { type: 'start' }, 1_000);
        expect(first.commands).toEqual([{ type: 'schedule', runId: 'r', dueAt: START_AT, node: '', attempt: 0, start: true }]);
        expect(live.state.status).toBe('scheduled');
        let started = 0;
        let cancelled = false;
        const sorted = [...actions].sort((x, y) => x.at - y.at);
        for (const { at, event } of sorted) {
          const wasScheduled = live.state.startAt !== undefined;
          if (event.type === 'change' && live.state.cancelled) {
            expect(() => step(live, event, at)).toThrow(/cancelled/); // a cancelled run takes no change
            continue;
          }
          const out = step(live, event, at);
          const dispatched = out.commands.filter((c) => c.type === 'dispatch');
          const starts = out.history.filter((h) => h.type === 'run.started').length;
          started += starts;
          if (event.type === 'change' && wasScheduled) cancelled = true;
          if (wasScheduled && (at < START_AT || cancelled)) {
            expect(dispatched).toEqual([]);
            expect(starts).toBe(0);
          }
          if (wasScheduled && starts === 1) expect(dispatched.map((c) => c.node)).toEqual(['a']);
          // A resume of a run still scheduled and not due arms its timer again.
          if (event.type === 'resume' && wasScheduled && !cancelled && at < START_AT) {
            expect(out.commands).toContainEqual({ type: 'schedule', runId: 'r', dueAt: START_AT, node: '', attempt: 0, start: true });
          }
        }
        expect(started).toBeLessThanOrEqual(1);
        if (cancelled) expect(live.state.status).toBe('cancelled');
        const due = sorted.some(({ at, event }) => at >= START_AT && (event.type === 'start.due' || event.type === 'resume'));
        const cancelledFirst = sorted.findIndex((a) => a.event.type === 'change') >= 0 && sorted.findIndex((a) => a.event.type === 'change') < sorted.findIndex(({ at, event }) => at >= START_AT && (event.type === 'start.due' || event.type === 'resume'));
        if (due && !cancelledFirst) expect(started).toBe(1);
      }),
      { numRuns: 500 },
    );
  });
});
