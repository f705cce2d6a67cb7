/**
 * One naming rule on every entry path (issue 10, point 2): the API, raw flow
 * definitions, run ids, CLI inputs and bus messages all refuse names that are
 * empty, too long, hold odd characters, or are members of `Object.prototype`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client, type FlowDefinition, type NodeDefinition } from '../../src/index.js';
import { parseInputs } from '../../src/cli/options.js';
import { check } from '../../src/codec/schema.js';
import { MAX_NAME_LENGTH } from '../../src/model/names.js';
import { DispatchSchema, SignalSchema } from '../../src/transport/amqp/messages.js';
import { rejection } from '../api/helpers.js';

const noop = task('sec-noop', { apply: () => 1 });

function nodeDef(id: string, overrides: Partial<NodeDefinition> = {}): NodeDefinition {
  return { ...noop.s().definition(), id, ...overrides };
}

function raw(nodes: unknown[], extra: Record<string, unknown> = {}): FlowDefinition {
  return { name: 'raw', nodes, links: [], onFailure: 'halt', ...extra } as unknown as FlowDefinition;
}

describe('the naming rule', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', ''])('refuses %j as a task, input or node name', (name) => {
    expect(() => task(name, { apply: () => 1 })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => task('sec-t', { requires: [name], apply: () => 1 })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => noop.s({}, { id: name })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
  });

  it('refuses bound inputs and flow inputs under names that break the rule', async () => {
    expect(() => noop.s({ constructor: 1 })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    const client = await connect({ store: 'memory', tasks: [noop] });
    try {
      const error = await rejection(client.start(flow('inputs').add(noop.s()), { toString: 1 }));
      expect(error.code).toBe('TW_CONFIG');
      expect(await client.runs()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it(`accepts ${MAX_NAME_LENGTH} characters, not one more`, () => {
    expect(noop.s({}, { id: 'n'.repeat(MAX_NAME_LENGTH) }).id).toHaveLength(MAX_NAME_LENGTH);
    expect(() => noop.s({}, { id: 'n'.repeat(MAX_NAME_LENGTH + 1) })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
  });
});

describe('raw definitions and run ids given to the client', () => {
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  const cases: [string, FlowDefinition][] = [
    ['a null node', raw([null])],
    ['a node id holding NUL', raw([nodeDef('a\u0000b')])],
    ['an empty node id', raw([nodeDef('')])],
    ['a node id "__proto__"', raw([nodeDef('__proto__')])],
    ['an input named "constructor"', raw([nodeDef('n', { requires: ['constructor'] })])],
    ['a bound input named "toString"', raw([nodeDef('n', { bound: { toString: 1 } })])],
    ['a link to an odd name', raw([nodeDef('n')], { links: [{ from: 'n', to: 'x y', map: {}, inferred: false }] })],
    ['nodes that are not an array', raw(undefined as unknown as unknown[])],
  ];

  it.each(cases)('refuses %s with a code and starts nothing', async (_what, definition) => {
    client = await connect({ store: 'memory', tasks: [noop] });
    const error = await rejection(client.start(definition, {}, { validate: false }));
    expect(error.code).toMatch(/^TW_/);
    expect(await client.runs()).toEqual([]);
  });

  it.each(['', 'r'.repeat(MAX_NAME_LENGTH + 1), 'a/b', '__proto__'])('refuses the run id %j', async (id) => {
    client = await connect({ store: 'memory', tasks: [noop] });
    const error = await rejection(client.start(raw([nodeDef('n')]), {}, { id }));
    expect(error.code).toBe('TW_CONFIG');
    expect(await client.runs()).toEqual([]);
  });

  it('runs a valid raw definition with a run id of the longest length', async () => {
    client = await connect({ store: 'memory', tasks: [noop] });
    const run = await client.start(raw([nodeDef('n')]), {}, { id: 'r'.repeat(MAX_NAME_LENGTH) });
    expect((await run.wait({ timeoutMs: 10_000 })).status).toBe('succeeded');
    expect(await run.results()).toEqual({ n: 1 });
  });
});

describe('CLI inputs', () => {
  it('refuses an input named "__proto__" in --inputs and --input instead of dropping it', () => {
    expect(() => parseInputs([], '{"__proto__": {"x": 1}}')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^TW_/) }));
    expect(() => parseInputs(['__proto__=1'])).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => parseInputs(['constructor=1'])).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(parseInputs(['x=1'], '{"y": "2"}')).toEqual({ x: 1, y: '2' });
  });
});

describe('bus messages', () => {
  const dispatch = { type: 'dispatch', kind: 'apply', runId: 'r', node: 'n', attempt: 1, task: 't', inputs: {}, timeoutMs: 0, queue: 'default' };
  const signal = { type: 'task.succeeded', runId: 'r', node: 'n', attempt: 1, worker: 'w', result: 1 };

  it.each(['runId', 'node', 'task', 'queue'])('refuses a dispatch whose %s breaks the naming rule', (field) => {
    expect(check(DispatchSchema, dispatch, 'dispatch')).toMatchObject(dispatch);
    for (const bad of ['constructor', 'a\u0000', 'x'.repeat(MAX_NAME_LENGTH + 1)]) {
      expect(() => check(DispatchSchema, { ...dispatch, [field]: bad }, 'dispatch')).toThrow(expect.objectContaining({ code: 'TW_DECODE' }));
    }
  });

  it('refuses a signal for node "__proto__"', () => {
    expect(() => check(SignalSchema, { ...signal, node: '__proto__' }, 'signal')).toThrow(expect.objectContaining({ code: 'TW_DECODE' }));
  });
});
