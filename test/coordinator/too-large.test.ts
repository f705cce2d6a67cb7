/**
 * One oversized value fails alone (every mode, one limit: `maxMessageBytes`):
 * a start or notify whose dispatch would exceed it rejects with `TW_TOO_LARGE`;
 * a node whose inputs grew too large from upstream results fails with that
 * code; nothing else is held back, in a batch or in the outbox.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { Json } from '../../src/codec/json.js';
import { stringifyJson } from '../../src/codec/parse.js';
import { createRun, emptyOutput, liveRun, step } from '../../src/engine/index.js';
import { connect, event, flow, task, TransportError, type Client } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import { encodedBytes } from '../../src/transport/limits.js';
import type { DispatchMessage, Transport } from '../../src/transport/port.js';
import { rejection } from '../api/helpers.js';

const LIMIT = 64 * 1024;
const big = (kib: number): string => 'x'.repeat(kib * 1024);
const echo = task('tl-echo', { requires: ['v'], apply: ({ v }: { v: string }) => v.length });
const grow = task('tl-grow', { apply: () => big(40) });
const join = task('tl-join', { requires: ['tl-grow', 'pad'], apply: ({ pad }: { pad: string; 'tl-grow': string }) => pad.length });
const listener = task('tl-listen', { requires: ['v'], apply: ({ v }: { v: string }) => v.length });

describe('oversized values fail alone', () => {
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  it('rejects the one start whose input is too large; the runs started beside it finish', async () => {
    client = await connect({ store: 'memory', maxMessageBytes: LIMIT });
    const tw = client;
    const small = Array.from({ length: 20 }, (_, i) => tw.start(flow(`small-${i}`).add(echo.s({ v: 'a' }))));
    const large = tw.start(flow('large').add(echo.s({ v: big(100) })));
    const error = await rejection(large);
    expect(error.code).toBe('TW_TOO_LARGE');
    expect(error.message).toContain('tl-echo');
    for (const run of await Promise.all(small)) expect((await run.wait({ timeoutMs: 10_000 })).status).toBe('succeeded');
    expect((await tw.runs()).filter((r) => r.flow === 'large')).toEqual([]);
  });

  it('rejects a notify whose payload is too large, and the run takes the next one', async () => {
    client = await connect({ store: 'memory', maxMessageBytes: LIMIT });
    const run = await client.start(flow('listen').link(event('tl.event'), listener.s({}, { persistent: true })));
    expect((await rejection(client.notify('tl.event', { v: big(100) }))).code).toBe('TW_TOO_LARGE');
    expect(await client.notify('tl.event', { v: 'ok' })).toEqual([run.id]);
    await run.stop();
    const done = await run.wait({ timeoutMs: 10_000 });
    expect(done.status).toBe('succeeded');
    expect((await run.activations('tl-listen')).map((a) => a.status)).toEqual(['succeeded']);
  });

  it('fails the node whose inputs grew too large from upstream, with TW_TOO_LARGE; wait() returns', async () => {
    client = await connect({ store: 'memory', maxMessageBytes: LIMIT });
    const run = await client.start(flow('grows').link(grow.s(), join.s({ pad: big(40) })));
    const done = await run.wait({ timeoutMs: 10_000 });
    expect(done.status).toBe('failed');
    expect(done.nodes['tl-join']?.error).toMatchObject({ code: 'TW_TOO_LARGE', retryable: false });
    expect(done.nodes['tl-grow']?.status).toBe('succeeded');
  });

  it('publishes the other dispatches of a batch when one cannot be published, and keeps that one in the outbox', async () => {
    const store = new MemoryStore();
    const inner = new InProcessTransport();
    const published: string[] = [];
    const transport: Transport = Object.assign(Object.create(inner) as Transport, {
      durable: true,
      dispatch: async (messages: DispatchMessage[]) => {
        if (messages.some((m) => m.runId === 'bad')) throw new TransportError('payload exceeds the limit');
        published.push(...messages.map((m) => m.runId));
      },
    });
    const coordinator = new Coordinator({ store, transport, pollIntervalMs: 60_000 });
    const make = (id: string) => liveRun(createRun(flow('one').add(echo.s({ v: 'a' })).definition(), { id, inputs: {}, validate: true, now: Date.now() }));
    await Promise.all(['good-1', 'bad', 'good-2'].map((id) => coordinator.create(make(id))));
    expect(published.sort()).toEqual(['good-1', 'good-2']);
    await expect.poll(async () => (await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).map((i) => i.runId)).toEqual(['bad']);
    await coordinator.pollOutbox(); // the poller, too, publishes what it can
    await coordinator.close();
    await inner.close();
  });

  it('refuses a dispatch that fits the limit only without what the transport adds on its way (sentAt, traceparent)', async () => {
    // Found by the simulator: such a dispatch passed the check, the broker refused it, and its node stayed running.
    const store = new MemoryStore();
    const inner = new InProcessTransport({ maxMessageBytes: LIMIT });
    // As the AMQP transport: a dispatch travels stamped with its send time, and a body over the limit is refused.
    const transport: Transport = Object.assign(Object.create(inner) as Transport, {
      durable: true,
      dispatch: async (messages: DispatchMessage[]) => {
        for (const message of messages) stringifyJson({ ...message, sentAt: Date.now() } as unknown as Json, { maxBytes: LIMIT });
        await inner.dispatch(messages);
      },
    });
    const coordinator = new Coordinator({ store, transport, pollIntervalMs: 60_000, maxMessageBytes: LIMIT });
    const make = (v: string) => liveRun(createRun(flow('edge').add(echo.s({ v })).definition(), { id: 'edge', inputs: {}, validate: true, now: Date.now() }));
    const out = emptyOutput();
    step(make(''), { type: 'start' }, Date.now(), out);
    const bytes = encodedBytes(out.commands.find((command) => command.type === 'dispatch'));
    const error = await rejection(coordinator.create(make('v'.repeat(LIMIT - 5 - bytes))));
    expect(error.code).toBe('TW_TOO_LARGE');
    expect(await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await coordinator.close();
    await inner.close();
  });
});
