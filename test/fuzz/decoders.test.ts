/**
 * Fuzzing every decoder (issue 10, point 7): JSON text and bytes, values,
 * message bodies and headers per message kind (with and without signing),
 * raw flow definitions, change lists and CLI inputs. Each input gets a
 * `TaskwireError` with a code or works; nothing else escapes.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseInputs } from '../../src/cli/options.js';
import { decodeChange, decodeFlowDefinition } from '../../src/codec/definitions.js';
import type { Json } from '../../src/codec/json.js';
import { parseJson, stringifyParsed } from '../../src/codec/parse.js';
import { check, type Schema } from '../../src/codec/schema.js';
import { decodeValue, encodeValue } from '../../src/codec/value.js';
import { silentLogger } from '../../src/observability/logger.js';
import { decodeBody, decodeItems } from '../../src/transport/amqp/decode.js';
import { AbortSchema, DispatchSchema, HistoryEntrySchema, SignalSchema } from '../../src/transport/amqp/messages.js';
import { MessageSigner, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/transport/amqp/signing.js';
import { hostileJson, mutated, nameArb, outcome, params, record } from './fuzz.js';

const retry = { limit: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000, jitter: 0.2 };
const node = { id: 'a', kind: 'task', name: 'add', bound: { x: 1 }, requires: ['x'], optional: [], provides: ['add'], persistent: false, rollback: false, retry, timeoutMs: 0, queue: 'default' };

const MESSAGES: [string, Schema<unknown>, Record<string, unknown>][] = [
  ['dispatch', DispatchSchema, { type: 'dispatch', kind: 'apply', runId: 'r', node: 'a', attempt: 1, task: 'add', inputs: { x: 1 }, timeoutMs: 0, queue: 'default' }],
  ['signal task.started', SignalSchema, { type: 'task.started', runId: 'r', node: 'a', attempt: 1, worker: 'w', startedAt: 1_700_000_000_000 }],
  ['signal task.succeeded', SignalSchema, { type: 'task.succeeded', runId: 'r', node: 'a', attempt: 1, worker: 'w', result: 3, startedAt: 1_700_000_000_000 }],
  ['signal task.failed', SignalSchema, { type: 'task.failed', runId: 'r', node: 'a', attempt: 1, worker: 'w', error: { name: 'Error', message: 'm', retryable: true } }],
  ['signal task.heartbeat', SignalSchema, { type: 'task.heartbeat', runId: 'r', node: 'a', attempt: 1, worker: 'w', leaseMs: 1000 }],
  ['abort', AbortSchema, { runId: 'r', node: 'a' }],
  ['announcement', HistoryEntrySchema, { runId: 'r', seq: 1, at: 1, type: 'node.succeeded', graphVersion: 1, node: 'a' }],
];

const KEY = 'fuzz-signing-key-'.padEnd(40, 'k');

/** A body as a client library may hand it over: bytes, text, or an object it parsed itself. */
const bodyOf = (message: unknown): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constant(Buffer.from(JSON.stringify(message) ?? 'null')),
    fc.constant(JSON.stringify(message) ?? 'null'),
    fc.constant(message),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 64 }),
  );

const headersArb = fc.dictionary(
  fc.oneof(fc.constantFrom(SIGNATURE_HEADER, TIMESTAMP_HEADER, 'traceparent', '__proto__'), fc.string({ maxLength: 8 })),
  fc.oneof(fc.string({ maxLength: 60 }), fc.integer(), fc.constant(null), fc.string().map((s) => Buffer.from(s)), fc.constant(`v1=${'A'.repeat(43)}`)),
  { maxKeys: 4 },
);

describe('fuzz: JSON and values', () => {
  it('parseJson: text and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array().map((b) => Buffer.from(b)), fc.jsonValue().map((v) => JSON.stringify(v).replace(/"/, '"__proto__":'))), (input) => {
        outcome('parseJson', () => parseJson(input));
      }),
      params(),
    );
  });

  it('decodeValue: tagged and hostile values', () => {
    fc.assert(
      fc.property(hostileJson, (json) => {
        outcome('decodeValue', () => decodeValue(json as Json));
      }),
      params(),
    );
  });

  it('encodeValue then decodeValue round-trips what it accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ maxDepth: 3 }), hostileJson), (value) => {
        const json = outcome('encodeValue', () => encodeValue(value, 'the fuzzer'));
        if (json !== undefined) expect(encodeValue(decodeValue(json), 'again')).toEqual(json);
      }),
      params(),
    );
  });

  it('stringifyParsed equals JSON.stringify on parsed JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stringifyParsed(value)).toBe(JSON.stringify(value));
      }),
      params(),
    );
  });
});

describe('fuzz: message bodies and headers, per kind', () => {
  it.each(MESSAGES)('%s: decodeBody never throws; what it accepts passes the schema again', (what, schema, valid) => {
    const context = { queue: 'q', what, schema, maxBytes: 64 * 1024, logger: silentLogger, fate: 'dead-lettered' };
    fc.assert(
      fc.property(mutated(valid).chain(bodyOf), fc.option(headersArb), fc.string({ maxLength: 8 }), (body, headers, routingKey) => {
        const message = { body, exchange: 'x', routingKey, messageId: 'm', ...(headers === null ? {} : { headers }) };
        const decoded = decodeBody(message, context);
        record(`decodeBody ${what}`, decoded === undefined ? 'refused' : 'ok');
        if (decoded !== undefined) expect(check(schema, decoded, what)).toEqual(decoded);
      }),
      params(),
    );
  });

  it.each(MESSAGES)('%s: decodeItems of a batch never throws; its good items pass the schema, its bad ones are named', (what, schema, valid) => {
    const context = { queue: 'q', what, schema, maxBytes: 64 * 1024, logger: silentLogger, fate: 'dead-lettered' };
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(valid), mutated(valid)), { minLength: 1, maxLength: 5 }), (items) => {
        const decoded = decodeItems({ body: Buffer.from(JSON.stringify(items)), messageId: 'm' }, context);
        record(`decodeItems ${what}`, decoded === undefined ? 'refused' : decoded.some((item) => item.bad !== undefined) ? 'some bad' : 'ok');
        for (const item of decoded ?? []) {
          if (item.bad === undefined) expect(check(schema, item.body, what)).toEqual(item.body);
          else expect(item.reason).toMatch(/item \d+ of \d+ of a batch/);
        }
      }),
      params(),
    );
  });

  it.each(MESSAGES)('%s with signing: only a message signed with the key passes; any change is refused', (what, schema, valid) => {
    const signer = new MessageSigner({ keys: [KEY] });
    const context = { queue: 'q', what, schema, maxBytes: 64 * 1024, logger: silentLogger, fate: 'dead-lettered', signer };
    fc.assert(
      fc.property(headersArb, fc.string({ maxLength: 8 }), fc.boolean(), fc.nat(40), (noise, routingKey, change, at) => {
        const body = Buffer.from(JSON.stringify(valid));
        const parts = { exchange: 'x', routingKey, messageId: 'm' };
        const headers = { ...noise, ...signer.sign({ ...parts, headers: noise }, body) };
        const sent = change ? Buffer.from(body.toString().slice(0, at) + ' ' + body.toString().slice(at)) : body;
        const decoded = decodeBody({ ...parts, headers, body: sent }, context);
        record(`signed ${what}`, decoded === undefined ? 'refused' : 'ok');
        expect(decoded === undefined).toBe(change);
        expect(decodeBody({ ...parts, headers: noise, body }, context)).toBeUndefined();
      }),
      params(),
    );
  });
});

describe('fuzz: raw definitions, changes and CLI inputs', () => {
  const nodeArb = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(nameArb, nameArb).map(([id, name]) => ({ ...node, id, name })) },
    { weight: 2, arbitrary: mutated(node) },
    { weight: 1, arbitrary: hostileJson },
  );
  const linkArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ from: nameArb, to: nameArb, map: fc.dictionary(nameArb, nameArb, { maxKeys: 2 }), inferred: fc.boolean() }) },
    { weight: 1, arbitrary: hostileJson },
  );
  const definitionArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ name: nameArb, nodes: fc.array(nodeArb, { maxLength: 5 }), links: fc.array(linkArb, { maxLength: 6 }), onFailure: fc.constantFrom('halt', 'rollback', 'explode') }) },
    { weight: 1, arbitrary: hostileJson },
  );

  it('decodeFlowDefinition', () => {
    fc.assert(
      fc.property(definitionArb, (raw) => {
        outcome('decodeFlowDefinition', () => decodeFlowDefinition(raw));
      }),
      params(),
    );
  });

  it('decodeChange', () => {
    const changes = fc.oneof(
      ...(['remove', 'retry', 'skip'] as const).map((op) => mutated({ op, node: 'a' })),
      mutated({ op: 'link', from: 'a', to: 'b', map: { x: 'y' } }),
      mutated({ op: 'relink', node: 'b', from: 'a', to: 'c' }),
      mutated({ op: 'replace', node: 'a', with: { bound: { x: 2 } } }),
      mutated({ op: 'add', node, sources: [{ node: 'b' }] }),
      fc.constantFrom({ op: 'cancel' }, { op: 'stop' }, { op: '__proto__' }),
      hostileJson,
    );
    fc.assert(
      fc.property(changes, (raw) => {
        outcome('decodeChange', () => decodeChange(raw as never));
      }),
      params(),
    );
  });

  it('CLI --input and --inputs', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(nameArb, fc.string({ maxLength: 10 })).map(([k, v]) => `${k}=${v}`), { maxLength: 3 }), fc.option(fc.oneof(fc.json(), fc.string(), hostileJson.map((v) => JSON.stringify(v)))), (pairs, json) => {
        outcome('parseInputs', () => parseInputs(pairs, json ?? undefined));
      }),
      params(),
    );
  });
});
