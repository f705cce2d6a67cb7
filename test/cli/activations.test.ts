/**
 * A persistent listener's activations from the terminal (issue 12 item 5):
 * `taskwire activations <run> <node>` lists them, `show` counts them. A `run`
 * subprocess hosts a flow whose listener is fed by `taskwire notify`; one of
 * its two activations fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_API, json, sandbox, type Running, type Sandbox } from './helpers.js';

let box: Sandbox;
let host: Running;
let runId: string;

interface Activation {
  seq: number;
  status: string;
  attempt: number;
  from: string;
  inputs: Record<string, unknown>;
  result?: unknown;
  error?: { message: string; code?: string };
}

/** Waits until the run's history holds `count` entries of `type` for `node`. */
async function waitForEntries(type: string, node: string, count: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const entries = json<{ type: string; node?: string }[]>(await box.tw(['history', runId, '--json']));
    if (entries.filter((e) => e.type === type && e.node === node).length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no ${count} ${type} of ${node} in run ${runId}`);
}

beforeAll(async () => {
  box = sandbox();
  const file = box.write(
    'ticks.ts',
    `${IMPORT_API('event, flow, task')}
export const check = task('check', { requires: ['n'], apply: ({ n }: { n: number }) => {
  if (n === 2) throw Object.assign(new Error('two is refused'), { code: 'E_TWO' });
  return n * 10;
} });
export default flow('ticks').link(event('tick', { provides: ['n'] }), check.s({}, { persistent: true }));
`,
  );
  host = box.start(['run', file]);
  await host.waitFor(/starting run (\S+)/);
  runId = /starting run (\S+)/.exec(host.output().stdout)?.[1] ?? '';
  for (const n of [1, 2]) expect((await box.tw(['notify', 'tick', JSON.stringify({ n })])).stdout.trim()).toBe(runId);
  await waitForEntries('node.succeeded', 'check', 1);
  await waitForEntries('node.failed', 'check', 1);
}, 60_000);

afterAll(async () => {
  if (runId !== '') await box.tw(['stop', runId]);
  host.child.kill('SIGTERM');
  await host.result;
  box.remove();
});

describe('a persistent listener in the CLI', () => {
  it('activations lists each activation with its state, attempt, source, times, inputs and result or error', async () => {
    const result = await box.tw(['activations', runId.slice(0, 8), 'check']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^SEQ\s+STATUS\s+ATTEMPT\s+FROM\s+QUEUED\s+FINISHED\s+TIMES\s+INPUTS\s+OUTCOME$/m);
    const stamp = String.raw`\d{4}-\d\d-\d\dT[\d:.]+Z`;
    // Time queued (dispatch to the worker's start), then time running.
    const times = String.raw`queued \d+ms, ran \d+ms`;
    expect(result.stdout).toMatch(new RegExp(String.raw`^\d+\s+succeeded\s+1\s+tick\s+${stamp}\s+${stamp}\s+${times}\s+\{"n":1\}\s+= 10$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(String.raw`^\d+\s+failed\s+1\s+tick\s+${stamp}\s+${stamp}\s+${times}\s+\{"n":2\}\s+error: two is refused \(E_TWO\)$`, 'm'));
  });

  it('activations --json gives them as the API does; --after and --limit page', async () => {
    const list = json<Activation[]>(await box.tw(['activations', runId, 'check', '--json']));
    expect(list).toMatchObject([
      { status: 'succeeded', attempt: 1, from: 'tick', inputs: { n: 1 }, result: 10 },
      { status: 'failed', attempt: 1, from: 'tick', inputs: { n: 2 }, error: { message: 'two is refused', code: 'E_TWO' } },
    ]);
    const [first, second] = list as [Activation, Activation];
    expect(json<Activation[]>(await box.tw(['activations', runId, 'check', '--json', '--limit', '1'])).map((a) => a.seq)).toEqual([first.seq]);
    expect(json<Activation[]>(await box.tw(['activations', runId, 'check', '--json', '--after', String(first.seq)])).map((a) => a.seq)).toEqual([second.seq]);
  });

  it('an unknown run or node is an error with its code (exit 2); a node that is not a persistent listener has none', async () => {
    const run = await box.tw(['activations', 'no-such-run', 'check']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('taskwire: unknown run "no-such-run" (TW_UNKNOWN_RUN)');
    const node = await box.tw(['activations', runId, 'nope']);
    expect(node.code).toBe(2);
    expect(node.stderr.trim()).toBe(`taskwire: unknown node "nope" in run "${runId}" (TW_UNKNOWN_NODE)`);
    const event = await box.tw(['activations', runId, 'tick']);
    expect(event.code).toBe(0);
    expect(event.stdout.trim()).toBe('no activations');
    expect(event.stderr).toContain('node "tick" is not a persistent listener');
  });

  it('show counts the activations of a persistent listener, the failed ones named; --json carries the counts', async () => {
    const show = await box.tw(['show', runId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^\s+check \(persistent\)\s+listening\s+activations 2 \(1 failed\)(\s|$)/m);
    const snapshot = json<{ nodes: Record<string, { activations?: unknown }> }>(await box.tw(['show', runId, '--json']));
    expect(snapshot.nodes['check']?.activations).toEqual({ succeeded: 1, failed: 1, queued: 0, running: 0, retrying: 0 });
    expect(snapshot.nodes['tick']).not.toHaveProperty('activations');
  });
});
