import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import type { Delivery, DispatchMessage } from '../../src/transport/port.js';
import { Isolation, Quarantine, type PausableConsumer } from '../../src/transport/quarantine.js';

const dispatch: DispatchMessage = { runId: 'r', node: 'n', attempt: 2, task: 't', kind: 'apply', queue: 'default', inputs: {} } as unknown as DispatchMessage;

/** A delivery that records how it was settled. */
function delivery(redelivered: boolean): Delivery<DispatchMessage> & { settled: string[] } {
  const settled: string[] = [];
  return { body: dispatch, redelivered, settled, ack: () => void settled.push('ack'), requeue: () => void settled.push('requeue'), reject: () => void settled.push('reject') };
}

/** A consumer whose pause resolves once `drain()` is called (its deliveries in hand settled). */
function consumer(): PausableConsumer & { paused: boolean; drain: () => void } {
  let drained: () => void = () => undefined;
  const c = {
    paused: false,
    pause: () => ((c.paused = true), new Promise<void>((resolve) => (drained = resolve))),
    resume: () => void (c.paused = false),
    drain: () => drained(),
  };
  return c;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('quarantine of redelivered dispatches (transport-independent)', () => {
  it('hands a first delivery on, and moves a redelivered one to the quarantine queue before acking it', async () => {
    const handled: Delivery<DispatchMessage>[] = [];
    const quarantine = new Quarantine({ isolation: new Isolation(), handler: (d) => handled.push(d), logger: silentLogger, queue: 'q', logPrefix: '' });
    const first = delivery(false);
    quarantine.fromWorkQueue(first, () => Promise.reject(new Error('never called')));
    expect(handled).toEqual([first]);
    const again = delivery(true);
    const moved: string[] = [];
    quarantine.fromWorkQueue(again, async () => void moved.push('moved'));
    await tick();
    expect(handled).toHaveLength(1);
    expect(moved).toEqual(['moved']);
    expect(again.settled).toEqual(['ack']);
    const failed = delivery(true);
    quarantine.fromWorkQueue(failed, () => Promise.reject(new Error('broker gone')));
    await tick();
    expect(failed.settled).toEqual(['requeue']);
  });

  it('runs a quarantined dispatch only once the work-queue consumers are paused and drained, and resumes them when it is settled', async () => {
    const isolation = new Isolation();
    const work = consumer();
    isolation.add(work);
    const handled: Delivery<DispatchMessage>[] = [];
    const quarantine = new Quarantine({ isolation, handler: (d) => handled.push(d), logger: silentLogger, queue: 'q', logPrefix: '' });
    const quarantined = delivery(false);
    quarantine.fromQuarantine(quarantined);
    await tick();
    expect(work.paused).toBe(true);
    expect(handled).toEqual([]);
    work.drain();
    await tick();
    expect(handled).toHaveLength(1);
    expect(handled[0]?.redelivered).toBe(true);
    expect(work.paused).toBe(true);
    handled[0]?.ack();
    expect(quarantined.settled).toEqual(['ack']);
    expect(work.paused).toBe(false);
  });

  it('gives back a quarantined dispatch still waiting when it is cancelled', async () => {
    const isolation = new Isolation();
    const work = consumer();
    isolation.add(work);
    const quarantine = new Quarantine({ isolation, handler: () => expect.unreachable(), logger: silentLogger, queue: 'q', logPrefix: '' });
    const waiting = delivery(false);
    quarantine.fromQuarantine(waiting);
    await tick();
    quarantine.cancel();
    work.drain();
    await tick();
    expect(waiting.settled).toEqual(['requeue']);
    expect(work.paused).toBe(false);
  });
});
