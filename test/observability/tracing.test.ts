/**
 * Tracing through @opentelemetry/api: with an SDK registered (here an in-memory
 * exporter), a run is one trace: the run's root span, a producer span per
 * dispatch under it, a consumer span per execution under its dispatch.
 */
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';

const exporter = new InMemorySpanExporter();

beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

describe('tracing', () => {
  it('makes one trace of a run: root, a dispatch span per node, an execution span under each dispatch', async () => {
    const add = task('trace-add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
    const mult = task('trace-mult', {
      requires: ['trace-add', 'y'],
      apply: ({ 'trace-add': sum, y }: { 'trace-add': number; y: number }) => {
        if (sum > 100) throw new Error('too big');
        return sum * y;
      },
    });
    const flo = flow('traced');
    flo.link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 }));
    const tw = await connect({ store: 'memory' });
    const run = await tw.start(flo);
    expect((await run.wait()).status).toBe('succeeded');
    await tw.close();

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'run traced');
    expect(root).toBeDefined();
    const traceId = root?.spanContext().traceId;
    expect(spans.every((s) => s.spanContext().traceId === traceId)).toBe(true);

    const publishes = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    const executions = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    expect(publishes.map((s) => s.attributes['taskwire.node_id']).sort()).toEqual(['trace-add', 'trace-mult']);
    for (const publish of publishes) {
      expect(parentOf(publish)).toBe(root?.spanContext().spanId);
      expect(publish.attributes['messaging.destination.name']).toBe('default');
      expect(publish.attributes['messaging.operation.type']).toBe('send');
      expect(publish.attributes['taskwire.run_id']).toBe(run.id);
    }
    expect(executions.map((s) => s.name).sort()).toEqual(['process trace-add', 'process trace-mult']);
    for (const execution of executions) {
      const publish = publishes.find((p) => p.attributes['taskwire.node_id'] === execution.attributes['taskwire.node_id']);
      expect(parentOf(execution)).toBe(publish?.spanContext().spanId);
      expect(execution.attributes['messaging.operation.type']).toBe('process');
      // Its time queued, from the publish to the start of the execution.
      expect(execution.attributes['taskwire.queue_wait_ms']).toEqual(expect.any(Number));
      expect(execution.attributes['taskwire.queue_wait_ms']).toBeGreaterThanOrEqual(0);
    }
  });

  it('marks the execution span of a failed task as an error', async () => {
    exporter.reset();
    const boom = task('trace-boom', { apply: () => { throw new Error('kaput'); } });
    const flo = flow('traced-failure');
    flo.add(boom.s());
    const tw = await connect({ store: 'memory' });
    const run = await tw.start(flo);
    expect((await run.wait()).status).toBe('failed');
    await tw.close();
    const execution = exporter.getFinishedSpans().find((s) => s.name === 'process trace-boom');
    expect(execution?.status).toEqual({ code: 2, message: 'kaput' });
  });
});
