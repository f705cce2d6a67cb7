/**
 * Conditional links (`flow.link(a, b, { when })`): a node runs if any of its
 * conditional links holds, and is skipped, with the reason, when all are
 * false; the skip reaches the node alone or everything downstream. Runs
 * against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { condition, flow, task, type HistoryEntry } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { heldTask, rejection, WAIT } from './helpers.js';

const skips = (history: readonly HistoryEntry[]): Record<string, unknown> =>
  Object.fromEntries(history.filter((e) => e.type === 'node.skipped').map((e) => [e.node, e.detail]));

describeBackends('conditions', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('runs the listener of a true condition and skips that of a false one, everything downstream of it too', async () => {
    const ran: string[] = [];
    const score = task('cd-score', { requires: ['value'], apply: ({ value }: { value: number }) => value });
    const publish = task('cd-publish', { requires: ['cd-score'], apply: ({ 'cd-score': s }: { 'cd-score': number }) => void ran.push(`publish ${s}`) });
    const reject = task('cd-reject', { requires: ['cd-score'], apply: () => void ran.push('reject') });
    const archive = task('cd-archive', { apply: () => void ran.push('archive') });
    const high = condition('cd-high', (s: number) => s >= 7);
    const low = condition('cd-low', (s: number) => s < 7);
    const [scoreNode, rejectNode] = [score.s(), reject.s()];
    const flo = flow('cd-branch').link(scoreNode, publish.s(), { when: high }).link(scoreNode, rejectNode, { when: low }).link(rejectNode, archive.s());
    const tw = await backend.connect({ tasks: [score, publish, reject, archive] });
    const run = await tw.start(flo, { value: 9 });
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(ran).toEqual(['publish 9']);
    expect(done.nodes['cd-publish']?.status).toBe('succeeded');
    expect(done.nodes['cd-reject']?.status).toBe('skipped');
    expect(done.nodes['cd-archive']?.status).toBe('skipped');
    expect(skips(await run.history())).toEqual({
      'cd-reject': { reason: 'condition', links: [{ from: 'cd-score', condition: 'cd-low' }], depth: 'downstream' },
      'cd-archive': { reason: 'upstream', from: 'cd-reject', depth: 'downstream' },
    });
  });

  it('depth node: only the listener is skipped; a node after it runs when its inputs resolve without it', async () => {
    const ran: string[] = [];
    const check = task('cdn-check', { provides: ['ok', 'size'], apply: () => ({ ok: false, size: 3 }) });
    const resize = task('cdn-resize', { requires: ['size'], provides: ['resized'], apply: ({ size }: { size: number }) => size * 2 });
    const store = task('cdn-store', { optional: ['resized'], apply: ({ resized }: { resized?: number }) => void ran.push(`store ${resized ?? 'original'}`) });
    const needs = task('cdn-needs', { requires: ['resized'], apply: () => void ran.push('needs') });
    const ok = condition('cdn-ok', (value: boolean) => value);
    const resizeNode = resize.s();
    const flo = flow('cd-node').link(check.s(), resizeNode, { when: ok, on: 'ok', depth: 'node' }).link(resizeNode, store.s()).link(resizeNode, needs.s());
    const tw = await backend.connect({ tasks: [check, resize, store, needs] });
    const run = await tw.start(flo, {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(ran).toEqual(['store original']);
    expect(done.nodes['cdn-resize']?.status).toBe('skipped');
    expect(done.nodes['cdn-store']?.status).toBe('succeeded');
    // It requires what the skipped node would have provided: it can no longer run.
    expect(done.nodes['cdn-needs']?.status).toBe('skipped');
    expect(skips(await run.history())).toMatchObject({
      'cdn-resize': { reason: 'condition', depth: 'node' },
      'cdn-needs': { reason: 'inputs', from: 'cdn-resize', depth: 'node' },
    });
  });

  it('a join with one false and one true conditional link runs; with both false it is skipped', async () => {
    const a = task('cdj-a', { apply: () => 1 });
    const b = task('cdj-b', { apply: () => 2 });
    const join = task('cdj-join', { optional: ['cdj-a', 'cdj-b'], apply: (inputs: Record<string, number>) => inputs });
    const isOne = condition('cdj-one', (v: number) => v === 1);
    const isTen = condition('cdj-ten', (v: number) => v === 10);
    const tw = await backend.connect({ tasks: [a, b, join] });
    const joined = (first: typeof isOne, second: typeof isOne, name: string) => {
      const node = join.s();
      return flow(name).link(a.s(), node, { when: first }).link(b.s(), node, { when: second });
    };
    const some = await tw.start(joined(isOne, isTen, 'cd-join'), {});
    const ran = await some.wait(WAIT);
    expect(ran.status).toBe('succeeded');
    // A false link still passes its source's values: the condition decides whether the node runs.
    expect(ran.nodes['cdj-join']).toMatchObject({ status: 'succeeded', result: { 'cdj-a': 1, 'cdj-b': 2 } });
    const none = await tw.start(joined(isTen, isTen, 'cd-join-none'), {});
    const skipped = await none.wait(WAIT);
    expect(skipped.status).toBe('succeeded');
    expect(skipped.nodes['cdj-join']?.status).toBe('skipped');
    expect(skips(await none.history())['cdj-join']).toEqual({
      reason: 'condition',
      links: [
        { from: 'cdj-a', condition: 'cdj-ten' },
        { from: 'cdj-b', condition: 'cdj-ten' },
      ],
      depth: 'downstream',
    });
  });

  it('a condition that throws fails the listener with TW_CONDITION naming the condition, the link and the run; retry evaluates it again', async () => {
    let broken = true;
    const source = task('cdt-source', { apply: () => 'x' });
    const after = task('cdt-after', { apply: () => 'ran' });
    const fragile = condition('cdt-fragile', () => {
      if (broken) throw new Error('no rule for x');
      return true;
    });
    const tw = await backend.connect({ tasks: [source, after] });
    const run = await tw.start(flow('cd-throw').link(source.s(), after.s(), { when: fragile }), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    const error = done.nodes['cdt-after']?.error;
    expect(error).toMatchObject({ name: 'ConditionError', code: 'TW_CONDITION' });
    expect(error?.message).toContain('condition "cdt-fragile" of link "cdt-source" -> "cdt-after"');
    expect(error?.message).toContain(`run "${run.id}"`);
    expect(error?.message).toContain('no rule for x');
    broken = false;
    await run.retry('cdt-after');
    const again = await run.wait(WAIT);
    expect(again.status).toBe('succeeded');
    expect(again.nodes['cdt-after']?.result).toBe('ran');
  });

  it('refuses at start a flow naming a condition not registered (unknown-condition, naming the link)', async () => {
    const source = task('cdu-source', { apply: () => 1 });
    const after = task('cdu-after', { apply: () => 2 });
    const tw = await backend.connect({ tasks: [source, after] });
    const definition = flow('cd-unknown').link(source.s(), after.s(), { when: condition('cdu-never-registered', () => true) }).definition();
    const error = await rejection(tw.start(definition, {}));
    expect(error.code).toBe('TW_VALIDATION');
    expect(error.message).toContain('link "cdu-source" -> "cdu-after" names unknown condition "cdu-never-registered"');
  });

  it('a live change replaces, removes or names an unknown condition while the listener waits; a decided one is refused', async () => {
    const gate = task('cdl-gate', { apply: () => 5 });
    const { task: hold, entered, release } = heldTask('cdl-hold', 'held');
    const after = task('cdl-after', { apply: () => 'ran' });
    const big = condition('cdl-big', (v: number) => v > 100);
    const small = condition('cdl-small', (v: number) => v <= 100);
    const tw = await backend.connect({ tasks: [gate, hold, after] });
    // cdl-after also waits for cdl-hold: its condition changes meanwhile.
    const afterNode = after.s();
    const run = await tw.start(flow('cd-live').link(gate.s(), afterNode, { when: big }).link(hold.s(), afterNode), {});
    await entered.promise;
    const unknown = await rejection(run.condition('cdl-gate', 'cdl-after', { name: 'cdl-nowhere', depth: 'node' }));
    expect(unknown.code).toBe('TW_VALIDATION');
    expect(unknown.message).toContain('unknown condition "cdl-nowhere"');
    await run.condition('cdl-gate', 'cdl-after', small, { depth: 'node' });
    release.resolve();
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['cdl-after']?.result).toBe('ran');
    const changes = (await run.history()).filter((e) => e.type === 'change').map((e) => e.detail);
    expect(changes).toEqual([{ op: 'condition', from: 'cdl-gate', to: 'cdl-after', condition: { name: 'cdl-small', depth: 'node' }, before: { name: 'cdl-big', depth: 'downstream' } }]);
    const decided = await rejection(run.condition('cdl-gate', 'cdl-after', null));
    expect(decided.code).toBe('TW_INVALID_CHANGE');
    expect(decided.message).toContain('node "cdl-after" is succeeded');
  });

  it('a live change removes a false condition: the listener runs', async () => {
    const gate = task('cdr-gate', { apply: () => 5 });
    const { task: hold, entered, release } = heldTask('cdr-hold', 'held');
    const after = task('cdr-after', { apply: () => 'ran' });
    const never = condition('cdr-never', () => false);
    const tw = await backend.connect({ tasks: [gate, hold, after] });
    const afterNode = after.s();
    const run = await tw.start(flow('cd-remove').link(gate.s(), afterNode, { when: never }).link(hold.s(), afterNode), {});
    await entered.promise;
    await run.condition('cdr-gate', 'cdr-after', null);
    release.resolve();
    const done = await run.wait(WAIT);
    expect(done.nodes['cdr-after']).toMatchObject({ status: 'succeeded', result: 'ran' });
  });
});
