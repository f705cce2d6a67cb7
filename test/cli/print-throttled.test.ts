/**
 * `taskwire show` (printRun) marks a node held at a flow-control limit:
 * status `throttled`, and the limit it waits at, not what a waiting node
 * waits for.
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { RunSnapshot } from '../../src/index.js';
import { printRun } from '../../src/cli/print.js';

afterEach(() => {
  vi.restoreAllMocks();
});

it('shows a throttled node as throttled, with its limit', () => {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const run = {
    id: 'r1',
    flow: 'billing',
    status: 'running',
    graphVersion: 1,
    nodes: {
      a: { id: 'a', kind: 'task', name: 'charge', status: 'running', attempt: 1, persistent: false, queuedAt: 1, startedAt: 2 },
      b: { id: 'b', kind: 'task', name: 'charge', status: 'waiting', attempt: 0, persistent: false, throttled: 'charge:customer="ann"' },
    },
  } as unknown as RunSnapshot;
  printRun(run, false);
  const b = lines.find((line) => line.trimStart().startsWith('b '));
  expect(b).toMatch(/^ {2}b\s+throttled\s+attempts 0\s+at the limit charge:customer="ann"\n$/);
  expect(lines.find((line) => line.trimStart().startsWith('a '))).toMatch(/^ {2}a\s+running\b/);
});
