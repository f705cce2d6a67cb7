/**
 * The coordinator's intake of client requests (one writer per run): each
 * request is answered once every run has its outcome, errors as data; a
 * request delivered again (its acknowledgement lost, a new shard owner) is
 * recognised by its event id or run id and answers the run as it is; a request
 * taken by a closed coordinator goes back whole.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { flow, task } from '../../src/index.js';
import { event } from '../../src/model/node.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { RequestDelivery, RunReply, RunRequest } from '../../src/transport/port.js';
import { stubTransport } from '../support/stub-transport.js';
import { until } from '../support/until.js';

/** A request as the transport hands it over, recording how it was settled and answered. */
function delivery(body: RunRequest): RequestDelivery & { settled: string[]; replies: RunReply[] } {
  const settled: string[] = [];
  const replies: RunReply[] = [];
  return {
    body,
    redelivered: false,
    settled,
    replies,
    ack: () => void settled.push('ack'),
    requeue: () => void settled.push('requeue'),
    reject: () => void settled.push('reject'),
    reply: async (reply) => void replies.push(reply),
  };
}

const echo = task('req-echo', { requires: ['n'], apply: ({ n }: { n: number }) => n });
const ping = event<{ n: number }>('req-ping', { provides: ['n'] });
const definition = flow('requests').link(ping, echo.s({}, { persistent: true })).definition();
const start = (runId: string, flowDefinition = definition): RunRequest => ({ type: 'start', runId, definition: flowDefinition, inputs: {}, validate: true });

describe('coordinator: client requests', () => {
  let coordinator: Coordinator | undefined;
  let handler: ((batch: RequestDelivery[]) => void) | undefined;
  const store = new MemoryStore();

  const started = async (): Promise<Coordinator> => {
    coordinator = new Coordinator({ store, transport: stubTransport({ consumeRequests: async (_options, h) => ((handler = h), { cancel: async () => undefined }) }) });
    await coordinator.start();
    return coordinator;
  };
  /** Hands `deliveries` to the coordinator and waits until each is settled. */
  const take = async (...deliveries: ReturnType<typeof delivery>[]): Promise<void> => {
    handler?.(deliveries);
    await until(() => deliveries.every((d) => d.settled.length > 0) || undefined, 'the requests settled');
  };

  afterEach(async () => {
    await coordinator?.close();
  });

  it('creates a run, answers a start delivered again as the same run, and refuses another flow under its id as data', async () => {
    await started();
    const first = delivery(start('req-1'));
    const again = delivery(start('req-1'));
    await take(first);
    await take(again);
    for (const d of [first, again]) {
      expect(d.settled).toEqual(['ack']);
      expect(d.replies).toEqual([{ outcomes: [{ runId: 'req-1', status: 'listening', graphVersion: 1 }] }]);
    }
    expect((await store.loadRun('req-1'))?.flow).toBe('requests');
    const other = delivery(start('req-1', { ...definition, name: 'another' }));
    await take(other);
    expect(other.replies[0]?.outcomes).toEqual([{ runId: 'req-1', error: expect.objectContaining({ name: 'ConflictError', code: 'TW_CONFLICT', fields: { runId: 'req-1' } }) }]);
  });

  it('notifies the runs of a request\'s notifications once per event id, answering each run in order, an unknown one with its error', async () => {
    await started();
    await take(delivery(start('req-a')), delivery(start('req-b')));
    const ping = { event: 'req-ping', payload: { n: 7 }, eventId: 'ping-1' };
    const notify: RunRequest = { type: 'notify', notifications: [{ ...ping, runIds: ['req-a', 'req-missing'] }, { ...ping, runIds: ['req-b'] }] };
    const first = delivery(notify);
    const redelivered = delivery(notify);
    await take(first);
    await take(redelivered);
    for (const d of [first, redelivered]) {
      expect(d.replies[0]?.outcomes.map((o) => ('error' in o ? o.error.code : o.status))).toEqual(['running', 'TW_UNKNOWN_RUN', 'running']);
    }
    for (const runId of ['req-a', 'req-b']) {
      const history = await store.history(runId);
      expect(history.filter((entry) => entry.type === 'event.notified')).toHaveLength(1);
    }
  });

  it('gives a request back whole when the coordinator is closed', async () => {
    const closing = await started();
    await closing.close();
    const late = delivery({ type: 'change', runId: 'req-1', changes: [{ op: 'stop' }], actor: 'me', eventId: 'c-1' });
    handler?.([late]);
    expect(late.settled).toEqual(['requeue']);
    expect(late.replies).toEqual([]);
  });
});
