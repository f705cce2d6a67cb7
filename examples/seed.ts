/**
 * The seed's example: add(1, 2) linked to mult(add, y = 3). Running it yields mult = 9.
 *
 *   ./bin/taskwire.js run examples/seed.ts
 */
import { flow, task } from '../src/index.js';

export const add = task('add', {
  requires: ['x', 'y'],
  apply: ({ x, y }: { x: number; y: number }) => x + y,
});

export const mult = task('mult', {
  requires: ['add', 'y'],
  apply: ({ add, y }: { add: number; y: number }) => add * y,
});

const flo = flow('My-distributed-flow');
flo.link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 }));

export default flo;
