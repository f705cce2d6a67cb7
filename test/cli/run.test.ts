/**
 * `taskwire run`, `validate`, `notify` and usage, as subprocesses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as cronExample } from '../../examples/cron.js';
import { connect, event, flow, task } from '../../src/index.js';
import { IMPORT_API, ROOT, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;
beforeAll(() => {
  box = sandbox();
});
afterAll(() => box.remove());

describe('taskwire run', () => {
  it('runs the seed flow: mult = 9, exit code 0, one plain progress line per event off a terminal', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/seed.ts')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('mult = 9');
    expect(result.stdout).toMatch(/^node\.succeeded\s+mult \(attempt 1\)$/m);
    expect(result.stdout).not.toContain('\x1b[');
  });

  it('runs the saga: the DNS step fails, the run ends rolled_back with exit code 1', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/provision.ts')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\(provision-server\) rolled_back/);
    expect(result.stdout).toMatch(/registerDns\s+failed\s+attempts 1/);
    expect(result.stdout).toContain('rollback.succeeded provisionServer');
  });

  it('runs a subflow: its nodes nested under the subflow with its scope attempt, the scope retry in the progress', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/subflows.ts'), '--input', 'items=["book"]']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^scope\.retrying\s+payment \(attempt 2\)$/m);
    expect(result.stdout).toMatch(/^ {2}payment\/ \(subflow: attempt 2 of 3, rollback\)\n {4}payment\/reserve\s+succeeded\s+attempts 2.*\n {4}payment\/charge\s+succeeded/m);
    expect(result.stdout).toContain('email = "sent \\"paid 42 for rsv-1\\""');
  });

  it('runs a map: one child per page, the retried child, and the album collecting the cover and the pages in order', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/map-collect.ts')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^node\.retrying\s+resize\[1\] \(attempt 1\): p2\.png: the resizer timed out$/m);
    expect(result.stdout).toContain('album = "album of 6: cover.png, small-p1.png, small-p2.png, small-p3.png, small-p4.png, small-p5.png"');
  });

  it('runs the flow-control example: throttled nodes in the progress, the urgent charge admitted before the others of its customer', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/flow-control.ts')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^node\.throttled\s+ann-1 \(attempt 1\): at the limit charge:customer="ann"$/m);
    const admitted = [...result.stdout.matchAll(/^gate\.admitted\s+(ann-\S+)/gm)].map((m) => m[1]);
    expect(admitted).toEqual(['ann-urgent', 'ann-1', 'ann-2', 'ann-3', 'ann-4']);
    expect(result.stdout).toMatch(/^ {2}ann-urgent\s+succeeded\b/m);
  });

  it('runs conditional links: the branch not taken is skipped, the join after it runs', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/conditions.ts'), '--input', 'score=4']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^node\.skipped\s+publish: condition false: accepted \(from review\)$/m);
    expect(result.stdout).toMatch(/^ {2}publish\s+skipped\s+attempts 0\s+condition false: accepted \(from review\)$/m);
    expect(result.stdout).toContain('notify = "returned: needs sources"');
  });

  it('runs the cron example\'s flow once (the flow a schedule starts on each tick)', async () => {
    const result = await box.tw(['run', join(ROOT, 'examples/cron.ts')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('report = "eu: 14 orders, 2468 EUR"');
  });

  it('the cron example runs a delayed start and three ticks of its schedule, each to its end', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      await cronExample();
    } finally {
      log.mockRestore();
    }
    const delayed = lines.filter((line) => !line.startsWith('sales-every-2s:') && /^[^ ]+: /.test(line) && !line.startsWith('paused'));
    expect(delayed.map((line) => line.replace(/^[^ ]+: /, ''))).toEqual(['scheduled', 'succeeded "us: 14 orders, 2468 EUR"']);
    const ticks = lines.filter((line) => line.startsWith('sales-every-2s:'));
    expect(ticks).toHaveLength(3);
    for (const tick of ticks) expect(tick).toMatch(/^sales-every-2s:\S+: succeeded "eu: 14 orders, 2468 EUR"$/);
    expect(lines.at(-1)).toMatch(/^paused: true, last run sales-every-2s:/);
  });

  it('--help lists the flags with their environment variables', async () => {
    const result = await box.tw(['run', '--help'], { store: false });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('TASKWIRE_STORE_URL');
    expect(result.stdout).toContain('TASKWIRE_BROKER_URL');
  });

  it('a flow file that throws is named with its error; --debug adds the stacks, the file named in its frames', async () => {
    const file = box.write('throws.ts', `function connectDatabase(): never {\n  throw new Error('the database is not configured');\n}\nconnectDatabase();\nexport default 1;\n`);
    const plain = await box.tw(['run', file], { store: false });
    expect(plain.code).toBe(2);
    expect(plain.stderr.trim()).toBe(`taskwire: ${file}: loading it threw: the database is not configured (--debug prints the stack) (TW_CONFIG)`);
    const debug = await box.tw(['run', file, '--debug'], { store: false });
    expect(debug.code).toBe(2);
    expect(debug.stderr).toContain('caused by: Error: the database is not configured');
    expect(debug.stderr).toMatch(new RegExp(`at connectDatabase \\(${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(debug.stderr).not.toContain('data:text/javascript');
  });

  it('a run of more than 20 nodes ends with a summary: counts, the nodes that did not succeed; --results prints every node', async () => {
    const file = box.write(
      'wide.ts',
      `${IMPORT_API('flow, task')}
const echo = task('echo', { requires: ['i'], apply: ({ i }: { i: number }) => { if (i === 24) throw new Error('the last'); return i; } });
const wide = flow('wide');
for (let i = 0; i < 25; i++) wide.add(echo.s({ i }, { id: \`n\${i}\` }));
export default wide;
`,
    );
    const summary = await box.tw(['run', file]);
    expect(summary.code).toBe(1);
    expect(summary.stdout).toMatch(/^ {2}25 nodes: \d+ succeeded, 1 failed/m);
    expect(summary.stdout).toMatch(/^ {2}n24\s+failed\s+attempts 1\s+.*error: the last$/m);
    expect(summary.stdout).not.toMatch(/^ {2}n3\s/m);
    expect(summary.stdout).toMatch(/^\d+ results: `taskwire show .*` lists every node, `--results` prints them here$/m);
    const full = await box.tw(['run', file, '--results']);
    expect(full.stdout).toMatch(/^ {2}n3\s+succeeded/m);
    expect(full.stdout).toMatch(/^ {2}n23 = 23$/m);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await box.tw([flag], { store: false });
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('a usage error exits with code 2', async () => {
    const result = await box.tw(['link', 'only-a-run-id']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required argument 'from'");
  });
});

describe('taskwire validate', () => {
  it('prints OK for a valid flow', async () => {
    const result = await box.tw(['validate', join(ROOT, 'examples/seed.ts')], { store: false });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toBe('OK: flow "My-distributed-flow" (2 nodes, 1 links)');
    const parsed = json<{ valid: boolean; problems: unknown[] }>(await box.tw(['validate', join(ROOT, 'examples/seed.ts'), '--json'], { store: false }));
    expect(parsed).toMatchObject({ valid: true, problems: [] });
  });

  it('prints every problem of an invalid flow and exits with code 1', async () => {
    const file = box.write(
      'invalid.ts',
      `${IMPORT_API('flow, task')}
const a = task('a', { requires: ['b'], apply: ({ b }: { b: number }) => b });
const b = task('b', { requires: ['a'], apply: ({ a }: { a: number }) => a });
const c = task('c', { requires: ['nowhere'], apply: () => 1 });
const f = flow('broken');
const na = a.s();
const nb = b.s();
f.link(na, nb).link(nb, na).add(c.s());
export default f;
`,
    );
    const result = await box.tw(['validate', file], { store: false });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('flow "broken" is invalid (2 problems):');
    expect(result.stdout).toContain('cycle: "a" -> "b" -> "a"');
    expect(result.stdout).toContain('required input "nowhere" of node "c"');
    const asJson = await box.tw(['validate', file, '--json'], { store: false });
    expect(asJson.code).toBe(1);
    expect(json<{ valid: boolean; problems: { kind: string }[] }>(asJson)).toMatchObject({ valid: false, problems: [{ kind: 'cycle' }, { kind: 'missing-input' }] });
    // A flow input given on the command line satisfies the missing input.
    const withInput = await box.tw(['validate', file, '--input', 'nowhere=1'], { store: false });
    expect(withInput.stdout).not.toContain('nowhere');
  });

  it('a file that is not a flow is an error (exit code 2)', async () => {
    const file = box.write('not-a-flow.ts', 'export default 42;\n');
    const result = await box.tw(['validate', file], { store: false });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^taskwire: .*expected a default export.*\(TW_CONFIG\)$/m);
  });
});

describe('taskwire notify', () => {
  it('with no run listening, prints nothing and exits 0', async () => {
    const result = await box.tw(['notify', 'server.created', '{"ip": "10.0.0.1"}']);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('a payload missing a field the listening event declares is refused with exit code 2, naming the field', async () => {
    const seen = task('cli-seen', { requires: ['ip'], apply: ({ ip }: { ip: string }) => ip });
    const listens = flow('listens').link(event('cli-server.created', { provides: ['ip'] }), seen.s({}, { persistent: true }));
    const tw = await connect({ store: box.store, worker: false, coordinator: false, resume: false });
    await tw.start(listens).finally(() => tw.close());
    const result = await box.tw(['notify', 'cli-server.created', '{"name": "web"}']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^taskwire: .*"ip".*\(TW_VALIDATION\)$/m);
  });

  it('notifying a run that no process executes prints its id, says so and exits 3 (the notification is recorded)', async () => {
    const seen = task('cli-seen-2', { requires: ['ip'], apply: ({ ip }: { ip: string }) => ip });
    const listens = flow('listens-2').link(event('cli-server.booted', { provides: ['ip'] }), seen.s({}, { persistent: true }));
    const tw = await connect({ store: box.store, worker: false, coordinator: false, resume: false });
    const run = await tw.start(listens).finally(() => tw.close());
    const result = await box.tw(['notify', 'cli-server.booted', '{"ip": "10.0.0.1"}']);
    expect(result).toEqual({
      code: 3,
      stdout: `${run.id}\n`,
      stderr: `taskwire: no process executes ${box.store}: the change to run ${run.id} is recorded and will be carried out when one starts: taskwire serve --tasks <module> --store ${box.store}\n`,
    });
  });

  it('a payload that is not a JSON object is an error', async () => {
    const result = await box.tw(['notify', 'server.created', '[1]']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('(TW_CONFIG)');
  });
});
