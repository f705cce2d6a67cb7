/**
 * A distributed client's events as requests (one writer per run): a notify
 * costs one request per shard, each run gets its own outcome, and the
 * coordinator's errors reach the caller as the classes it threw.
 */
import { describe, expect, it } from 'vitest';
import { RemoteWriter } from '../../src/client/remote-writer.js';
import { ConflictError, TaskwireError, TransportError, UnknownRunError, ValidationError } from '../../src/errors.js';
import { shardOf } from '../../src/model/shard.js';
import type { RunReply, RunRequest } from '../../src/transport/port.js';
import { errorFromWire, errorToWire } from '../../src/transport/wire-error.js';

const SHARDS = 4;

/** A request function that answers each run with `answer(runId)` and records what it was sent. */
function fakeRequests(answer: (runId: string) => RunReply['outcomes'][number] | Error): { sent: { shard: number; request: RunRequest }[]; request: (shard: number, request: RunRequest) => Promise<RunReply> } {
  const sent: { shard: number; request: RunRequest }[] = [];
  return {
    sent,
    request: async (shard, request) => {
      sent.push({ shard, request });
      const runIds = request.type === 'notify' ? request.notifications.flatMap((n) => n.runIds) : [request.runId];
      const outcomes = runIds.map(answer);
      const failed = outcomes.find((o): o is Error => o instanceof Error);
      if (failed !== undefined) throw failed;
      return { outcomes: outcomes as RunReply['outcomes'] };
    },
  };
}

describe('RemoteWriter', () => {
  const runs = Array.from({ length: 20 }, (_, i) => `run-${i}`);

  it('notifies many runs with one request per shard, each carrying the run ids of its shard, outcomes in the caller order', async () => {
    const fake = fakeRequests((runId) => ({ runId, status: 'running', graphVersion: 1 }));
    const writer = new RemoteWriter(fake.request, SHARDS, 1000);
    const settled = await writer.notify(runs, 'go', { x: 1 }, 'event-1');
    const shards = new Set(runs.map((r) => shardOf(r, SHARDS)));
    expect(fake.sent).toHaveLength(shards.size);
    for (const { shard, request } of fake.sent) {
      expect(request).toMatchObject({ type: 'notify', notifications: [{ event: 'go', payload: { x: 1 }, eventId: 'event-1' }] });
      const ids = request.type === 'notify' ? request.notifications.flatMap((n) => n.runIds) : [];
      expect(ids).toEqual(runs.filter((r) => shardOf(r, SHARDS) === shard));
    }
    expect(settled).toEqual(runs.map(() => ({ status: 'fulfilled', value: { status: 'running', graphVersion: 1 } })));
  });

  it('splits a shard with more than 1,000 notified runs into requests of at most 1,000', async () => {
    const fake = fakeRequests((runId) => ({ runId, status: 'running', graphVersion: 1 }));
    const many = Array.from({ length: 2500 }, (_, i) => `r${i}`);
    const settled = await new RemoteWriter(fake.request, 1, 1000).notify(many, 'go', {}, 'e');
    const idsOf = (request: RunRequest) => (request.type === 'notify' ? request.notifications.flatMap((n) => n.runIds) : []);
    expect(fake.sent.map(({ request }) => idsOf(request).length)).toEqual([1000, 1000, 500]);
    expect(fake.sent.flatMap(({ request }) => idsOf(request))).toEqual(many);
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
  });

  it('sends the notifications of one turn together: one request per shard, each notify answered with its own runs\' outcomes (W4)', async () => {
    const fake = fakeRequests((runId) => ({ runId, status: 'running', graphVersion: runId.length }));
    const writer = new RemoteWriter(fake.request, SHARDS, 1000);
    const calls = Array.from({ length: 3000 }, (_, i) => writer.notify(i % 2 === 0 ? ['run-1'] : ['run-1', 'run-12'], 'tick', { i }, `e${i}`));
    const settled = await Promise.all(calls);
    const shards = new Set(['run-1', 'run-12'].map((r) => shardOf(r, SHARDS)));
    const perShard = (shard: number) => fake.sent.filter((s) => s.shard === shard).map(({ request }) => (request.type === 'notify' ? request.notifications.length : 0));
    const runNotifications = { [shardOf('run-1', SHARDS)]: 3000, [shardOf('run-12', SHARDS)]: 1500 };
    for (const shard of shards) {
      const expected = shards.size === 1 ? 4500 : (runNotifications[shard] as number);
      expect(perShard(shard).reduce((a, b) => a + b, 0)).toBe(expected);
      expect(perShard(shard).length).toBe(Math.ceil(expected / 1000));
    }
    expect(settled[0]).toEqual([{ status: 'fulfilled', value: { status: 'running', graphVersion: 5 } }]);
    expect(settled[1]).toEqual([
      { status: 'fulfilled', value: { status: 'running', graphVersion: 5 } },
      { status: 'fulfilled', value: { status: 'running', graphVersion: 6 } },
    ]);
    const first = fake.sent[0]?.request;
    expect(first?.type === 'notify' ? first.notifications[0] : undefined).toMatchObject({ event: 'tick', payload: { i: 0 }, eventId: 'e0' });
  });

  it('rejects the runs of a shard whose request failed, and the runs a coordinator refused, each with its own error', async () => {
    const down = shardOf('run-0', SHARDS);
    const timeout = new TaskwireError('TW_TIMEOUT', 'no coordinator answered');
    const fake = fakeRequests((runId) => (shardOf(runId, SHARDS) === down ? timeout : runId === 'run-1' ? { runId, error: errorToWire(new UnknownRunError(runId)) } : { runId, status: 'running', graphVersion: 2 }));
    const writer = new RemoteWriter(fake.request, SHARDS, 1000);
    const settled = await writer.notify(runs, 'go', {}, 'event-2');
    runs.forEach((runId, i) => {
      const outcome = settled[i];
      if (shardOf(runId, SHARDS) === down) expect(outcome).toEqual({ status: 'rejected', reason: timeout });
      else if (runId === 'run-1') {
        expect(outcome?.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as UnknownRunError;
        expect(reason).toBeInstanceOf(UnknownRunError);
        expect(reason).toMatchObject({ code: 'TW_UNKNOWN_RUN', runId: 'run-1', message: 'unknown run "run-1"' });
      } else expect(outcome).toEqual({ status: 'fulfilled', value: { status: 'running', graphVersion: 2 } });
    });
  });

  it('answers a change with the run report, and throws the coordinator error as its class; a reply for another run is a transport error', async () => {
    const writer = new RemoteWriter(fakeRequests((runId) => ({ runId, status: 'cancelled', graphVersion: 3 })).request, SHARDS, 1000);
    await expect(writer.change('run-3', [{ op: 'cancel' }], 'me', 'e')).resolves.toEqual({ status: 'cancelled', graphVersion: 3 });
    const conflict = new ConflictError('run-3', 'run "run-3" already exists, of flow "f" (or with other inputs)');
    const refusing = new RemoteWriter(fakeRequests((runId) => ({ runId, error: errorToWire(conflict) })).request, SHARDS, 1000);
    const error = await refusing.start({ runId: 'run-3', definition: { name: 'f', nodes: [], links: [], onFailure: 'halt' }, inputs: {}, validate: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ name: 'ConflictError', code: 'TW_CONFLICT', runId: 'run-3', message: conflict.message });
    const astray = new RemoteWriter(fakeRequests(() => ({ runId: 'other', status: 'running', graphVersion: 1 })).request, SHARDS, 1000);
    await expect(astray.change('run-3', [{ op: 'stop' }], 'me', 'e')).rejects.toBeInstanceOf(TransportError);
  });
});

describe('RemoteWriter options', () => {
  it('refuses a request timeout that is not a number of ms from 1 to 2147483647 (TW_CONFIG)', () => {
    const request = fakeRequests(() => new Error('unused')).request;
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => new RemoteWriter(request, SHARDS, bad)).toThrow(expect.objectContaining({ code: 'TW_CONFIG', message: expect.stringMatching(/invalid requestTimeoutMs/) }));
    }
  });
});

describe('errors across the bus', () => {
  it('rebuilds a validation error with its problems, and an unknown error as a plain Error', () => {
    const invalid = new ValidationError([{ kind: 'unknown-node', nodes: ['x'], message: 'unknown node "x"' }], 'change');
    const rebuilt = errorFromWire(JSON.parse(JSON.stringify(errorToWire(invalid))));
    expect(rebuilt).toBeInstanceOf(ValidationError);
    expect(rebuilt).toMatchObject({ code: 'TW_VALIDATION', message: invalid.message, problems: invalid.problems });
    const plain = errorFromWire(errorToWire(new RangeError('boom')));
    expect(plain).toBeInstanceOf(Error);
    expect(plain).not.toBeInstanceOf(TaskwireError);
    expect(plain).toMatchObject({ name: 'RangeError', message: 'boom' });
  });
});
