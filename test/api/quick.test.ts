import { describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';

describe('seed', () => {
  it('add(1,2) -> mult(add, y=3) gives 9', async () => {
    const add = task('add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
    const mult = task('mult', { requires: ['add', 'y'], apply: ({ add, y }: { add: number; y: number }) => add * y });
    const flo = flow('My-distributed-flow');
    const m = mult.s({ y: 3 });
    flo.link(add.s({ x: 1, y: 2 }), m);
    const tw = await connect({ store: 'memory' });
    const run = await tw.start(flo);
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(await run.result(m)).toBe(9);
    await tw.close();
  });
});
