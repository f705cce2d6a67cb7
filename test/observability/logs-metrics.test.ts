/**
 * Logs and metrics: structured log lines carry the run, node, attempt and task;
 * secrets are redacted; metrics are served over HTTP in Prometheus' format.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';
import { serveMetrics } from '../../src/observability/metrics-server.js';
import { TaskwireMetrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/pino-logger.js';

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('puts run id, node id, attempt and task name on task log lines', async () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'debug', destination: stream });
    const flaky = task('log-flaky', { retry: { limit: 1, initialDelayMs: 1 }, apply: ({}, { attempt }) => { if (attempt === 1) throw new Error('first try fails'); return attempt; } });
    const flo = flow('logged');
    flo.add(flaky.s());
    const tw = await connect({ store: 'memory', logger });
    const run = await tw.start(flo);
    expect((await run.wait()).status).toBe('succeeded');
    await tw.close();
    const taskLines = lines.filter((l) => l['task'] === 'log-flaky');
    expect(taskLines.length).toBeGreaterThanOrEqual(3); // started twice, failed once
    for (const line of taskLines) {
      expect(line).toMatchObject({ runId: run.id, nodeId: 'log-flaky', task: 'log-flaky' });
      expect([1, 2]).toContain(line['attempt']);
    }
    expect(taskLines.some((l) => l['msg'] === 'apply failed' && l['error'] === 'first try fails' && l['attempt'] === 1)).toBe(true);
  });

  it('redacts connection URLs and fields the user marks', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ destination: stream, redact: ['inputs.apiKey'] });
    logger.info({ url: 'amqp://guest:secret@host', store: 'postgres://u:pw@db/x', inputs: { apiKey: 'k-123', name: 'ok' } }, 'connecting');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('pw@');
    expect(text).not.toContain('k-123');
    expect(lines[0]).toMatchObject({ url: '[redacted]', inputs: { apiKey: '[redacted]', name: 'ok' } });
  });
});

describe('metrics', () => {
  it('serves task counters, durations and retries over HTTP after a run', async () => {
    const metrics = new TaskwireMetrics();
    const server = await serveMetrics(0, metrics.registry);
    try {
      let calls = 0;
      const flaky = task('metric-flaky', { retry: { limit: 2, initialDelayMs: 1 }, apply: () => { if (++calls < 2) throw new Error('again'); return calls; } });
      const done = task('metric-done', { requires: ['metric-flaky'], apply: ({ 'metric-flaky': n }: { 'metric-flaky': number }) => n + 1 });
      const flo = flow('measured');
      flo.link(flaky.s(), done.s());
      const tw = await connect({ store: 'memory', metrics });
      const run = await tw.start(flo);
      expect((await run.wait()).status).toBe('succeeded');
      await tw.close();
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain('taskwire_tasks_started_total{task="metric-flaky",queue="default"} 2');
      expect(text).toContain('taskwire_tasks_failed_total{task="metric-flaky"} 1');
      expect(text).toContain('taskwire_tasks_succeeded_total{task="metric-flaky"} 1');
      expect(text).toContain('taskwire_tasks_succeeded_total{task="metric-done"} 1');
      expect(text).toContain('taskwire_tasks_retried_total{task="metric-flaky"} 1');
      expect(text).toMatch(/taskwire_task_duration_seconds_count\{task="metric-done",outcome="succeeded"\} 1/);
      expect(text).toContain('taskwire_queue_wait_seconds_count{task="metric-flaky",queue="default"} 2');
      expect(text).toContain('taskwire_queue_wait_seconds_count{task="metric-done",queue="default"} 1');
      expect(text).toMatch(/taskwire_engine_steps_total \d+/);
      expect(text).not.toContain(run.id); // no run ids as labels
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
