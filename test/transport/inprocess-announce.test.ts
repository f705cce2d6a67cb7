/**
 * Announcements in process: each subscriber gets the entries whose routing key
 * (`run.<runId>.<node or $run>.<type words>`) matches its pattern, in order,
 * also when a handler announces again while an announcement is being matched
 * (the transport reuses one array for the key words), and a cancelled
 * subscription gets nothing more.
 */
import { expect, it } from 'vitest';
import type { HistoryEntry } from '../../src/engine/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

const entry = (runId: string, type: HistoryEntry['type'], node?: string): HistoryEntry => ({ runId, seq: 1, at: 0, graphVersion: 1, type, ...(node === undefined ? {} : { node }) });

it('matches every entry by its own key, also when a handler announces again', async () => {
  const transport = new InProcessTransport();
  const seen: Record<string, string[]> = { runs: [], started: [], r1: [] };
  const describe = (e: HistoryEntry): string => `${e.runId}.${e.node ?? '$run'}.${e.type}`;
  await transport.subscribe('run.*.$run.#', (e) => seen['runs']?.push(describe(e)));
  await transport.subscribe('run.*.*.node.queued', (e) => {
    seen['started']?.push(describe(e));
    // Announced while the outer entry is still being matched against the other subscribers.
    if (e.runId === 'r1') void transport.announce([entry('r2', 'run.status')]);
  });
  await transport.subscribe('run.r1.#', (e) => seen['r1']?.push(describe(e)));
  await transport.announce([entry('r1', 'node.queued', 'a'), entry('r1', 'run.status'), entry('r3', 'node.queued', 'b')]);
  expect(seen).toEqual({
    runs: ['r2.$run.run.status', 'r1.$run.run.status'],
    started: ['r1.a.node.queued', 'r3.b.node.queued'],
    r1: ['r1.a.node.queued', 'r1.$run.run.status'],
  });
  await transport.close();
});

it('a cancelled subscription gets nothing more', async () => {
  const transport = new InProcessTransport();
  const seen: string[] = [];
  const subscription = await transport.subscribe('#', (e) => seen.push(e.type));
  await transport.announce([entry('r1', 'run.started')]);
  await subscription.cancel();
  await transport.announce([entry('r1', 'run.status')]);
  expect(seen).toEqual(['run.started']);
  await transport.close();
});
