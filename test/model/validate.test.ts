import { describe, expect, it } from 'vitest';
import { ValidationError, type ValidationProblem } from '../../src/errors.js';
import type { FlowDefinition } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { findProblems, validateFlow, type ValidateOptions } from '../../src/model/validate.js';
import { task } from '../../src/model/task.js';

/** A task with no code worth running. */
const unit = (name: string, spec: { requires?: string[]; optional?: string[]; provides?: string[] } = {}) => task(name, { ...spec, apply: () => name });

/** Validates, expecting a ValidationError; returns it. */
function validationError(definition: FlowDefinition, options?: ValidateOptions): ValidationError {
  try {
    validateFlow(definition, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.problems).toEqual(findProblems(definition, options));
    for (const problem of e.problems) expect(e.message).toContain(problem.message);
    return e;
  }
  throw new Error('expected a ValidationError');
}

/** Problems as `kind: nodes` strings, for compact assertions. */
const kinds = (problems: readonly ValidationProblem[]): string[] => problems.map((p) => `${p.kind}: ${p.nodes.join(',')}`);

/** a -> b -> c -> a, with pure ordering links. */
function triangle(): FlowDefinition {
  const a = unit('a').s();
  const b = unit('b').s();
  const c = unit('c').s();
  return flow('cyclic').link(a, b).link(b, c).link(c, a).definition();
}

describe('findProblems / validateFlow', () => {
  it('accepts the seed', () => {
    const add = unit('add', { requires: ['x', 'y'] });
    const mult = unit('mult', { requires: ['add', 'y'] });
    const def = flow('seed').link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 })).definition();
    expect(findProblems(def)).toEqual([]);
    expect(() => validateFlow(def)).not.toThrow();
  });

  it('reports a cycle with its path, code TW_CYCLE', () => {
    const e = validationError(triangle());
    expect(e.code).toBe('TW_CYCLE');
    expect(e.problems).toEqual([{ kind: 'cycle', nodes: ['a', 'b', 'c', 'a'], message: 'cycle: "a" -> "b" -> "c" -> "a"' }]);
    expect(e.message).toBe('invalid flow "cyclic": cycle: "a" -> "b" -> "c" -> "a"');
  });

  it('reports the cycle reached from an acyclic prefix, and a self loop', () => {
    const root = unit('root').s();
    const b = unit('b').s();
    const c = unit('c').s();
    expect(findProblems(flow('f').link(root, b).link(b, c).link(c, b).definition())[0]?.nodes).toEqual(['b', 'c', 'b']);
    const self = unit('self').s();
    expect(findProblems(flow('f').link(self, self).definition())[0]?.nodes).toEqual(['self', 'self']);
  });

  it('reports a missing required input naming the node and the input', () => {
    const needy = unit('needy', { requires: ['token', 'bound'] });
    const e = validationError(flow('f').add(needy.s({ bound: 1 })).definition());
    expect(e.code).toBe('TW_VALIDATION');
    expect(e.problems).toEqual([
      {
        kind: 'missing-input',
        nodes: ['needy'],
        message: 'required input "token" of node "needy" is not provided by any source, bound value or flow input',
      },
    ]);
  });

  it('counts flow inputs, renamed links, open events and optional inputs', () => {
    const server = unit('kickServer');
    const install = unit('install', { requires: ['address', 'token'], optional: ['extra'] });
    const def = flow('f').link(server.s(), install.s(), { map: { address: 'kickServer' } }).definition();
    expect(kinds(findProblems(def))).toEqual(['missing-input: install']);
    expect(findProblems(def, { inputs: { token: 't' } })).toEqual([]);
    const open = event('anything');
    const def2 = flow('f').link(open, unit('user', { requires: ['whatever'] }).s()).definition();
    expect(findProblems(def2)).toEqual([]);
    const closed = event('closed', { provides: ['ip'] });
    const def3 = flow('f').link(closed, unit('user', { requires: ['whatever'] }).s()).definition();
    expect(kinds(findProblems(def3))).toEqual(['missing-input: user']);
  });

  it('never meets inherited object properties as inputs: such names are refused (see test/security/names.test.ts)', () => {
    expect(() => unit('odd', { requires: ['constructor', 'valueOf'] })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
  });

  it('reports a mapping to a name the source does not provide', () => {
    const server = unit('kickServer');
    const install = unit('install', { requires: ['address'] });
    const def = flow('f').link(server.s(), install.s(), { map: { address: 'ip' } }).definition();
    expect(kinds(findProblems(def))).toEqual(['missing-input: install']);
  });

  it('reports two providers of one input', () => {
    const p1 = unit('p1', { provides: ['a'] });
    const p2 = unit('p2', { provides: ['a'] });
    const user = unit('user', { requires: ['a'] });
    const e = validationError(flow('f').add(p1.s(), p2.s(), user.s()).definition());
    expect(e.code).toBe('TW_VALIDATION');
    expect(e.problems).toEqual([
      { kind: 'duplicate-provider', nodes: ['user', 'p1', 'p2'], message: 'input "a" of node "user" is provided by several sources: "p1", "p2"' },
    ]);
  });

  it('reports a duplicate node id', () => {
    const a = unit('a');
    const e = validationError(flow('f').add(a.s(), a.s()).definition());
    expect(e.problems).toEqual([{ kind: 'duplicate-node', nodes: ['a'], message: 'node id "a" is used more than once' }]);
  });

  it('reports unknown tasks only when isKnownTask is given', () => {
    const def = flow('f').add(unit('known').s(), unit('mystery').s(), event('ev')).definition();
    expect(findProblems(def)).toEqual([]);
    const e = validationError(def, { isKnownTask: (name) => name === 'known' });
    expect(e.problems).toEqual([{ kind: 'unknown-task', nodes: ['mystery'], message: 'node "mystery" uses unknown task "mystery"' }]);
  });

  it('reports links to unknown nodes and links into events', () => {
    const def = flow('f').add(unit('a').s(), event('ev')).definition();
    def.links.push({ from: 'a', to: 'ghost', map: {}, inferred: false }, { from: 'a', to: 'ev', map: {}, inferred: false });
    expect(kinds(findProblems(def))).toEqual(['unknown-node: ghost', 'invalid: ev']);
  });

  it('lists every problem, in a stable order', () => {
    const def = triangle();
    const needy = unit('needy', { requires: ['token'] });
    def.nodes.push(needy.s().definition(), needy.s().definition());
    const options = { isKnownTask: (name: string) => name !== 'b' };
    const e = validationError(def, options);
    expect(e.code).toBe('TW_VALIDATION');
    expect(kinds(e.problems)).toEqual(['unknown-task: b', 'duplicate-node: needy', 'cycle: a,b,c,a', 'missing-input: needy']);
    expect(findProblems(def, options)).toEqual(e.problems);
  });
});
