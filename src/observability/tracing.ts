/**
 * OpenTelemetry tracing through `@opentelemetry/api` only: no SDK is forced on
 * users; with none registered, nothing is recorded and nothing is carried.
 *
 * One run is one trace across processes: starting a run opens a root span whose
 * context is kept in the run (`traceparent`); every dispatch is a producer span
 * under it, following the messaging semantic conventions, and its context
 * travels in the message (`traceparent`, also as an AMQP header); the worker's
 * execution is a consumer span under the dispatch.
 *
 * @packageDocumentation
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { DispatchMessage } from '../transport/port.js';

const TRACER = 'taskwire';

/** Opens and ends the root span of a new run; returns its `traceparent`, or undefined when tracing is off. */
export function traceRunStart(runId: string, flow: string): string | undefined {
  const span = trace.getTracer(TRACER).startSpan(`run ${flow}`, { kind: SpanKind.INTERNAL, attributes: { 'taskwire.run_id': runId, 'taskwire.flow': flow } }, ROOT_CONTEXT);
  const traceparent = serialise(span);
  span.end();
  return traceparent;
}

/** Opens a producer span for a dispatch under the run's trace and stamps its context on the message. */
export function traceDispatch(message: DispatchMessage, runTraceparent: string | undefined): Span | undefined {
  if (runTraceparent === undefined) return undefined;
  const parent = extract(runTraceparent);
  const span = startMessagingSpan(`publish ${message.queue}`, SpanKind.PRODUCER, 'send', 'publish', message, parent);
  const traceparent = serialise(span);
  if (traceparent !== undefined) message.traceparent = traceparent;
  return span;
}

/**
 * Runs a dispatch's execution inside a consumer span, child of the dispatch
 * span when the message carries a context. `run` resolves to whether it succeeded.
 */
export async function traceExecution<T extends { failed: boolean; message?: string }>(message: DispatchMessage, run: () => Promise<T>): Promise<T> {
  if (message.traceparent === undefined) return run();
  const parent = extract(message.traceparent);
  const span = startMessagingSpan(`process ${message.task}`, SpanKind.CONSUMER, 'process', 'consume', message, parent);
  // The gap between the publish span and this one is the time queued; said outright too.
  if (message.sentAt !== undefined) span.setAttribute('taskwire.queue_wait_ms', Math.max(0, Date.now() - message.sentAt));
  try {
    const outcome = await context.with(trace.setSpan(parent, span), run);
    if (outcome.failed) span.setStatus({ code: SpanStatusCode.ERROR, ...(outcome.message === undefined ? {} : { message: outcome.message }) });
    return outcome;
  } finally {
    span.end();
  }
}

/** A span following the messaging semantic conventions, with the task's attributes. */
function startMessagingSpan(name: string, kind: SpanKind, type: string, operation: string, message: DispatchMessage, parent: Context): Span {
  const attributes = {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': type,
    'messaging.operation.name': operation,
    'messaging.destination.name': message.queue,
    ...taskAttributes(message),
  };
  return trace.getTracer(TRACER).startSpan(name, { kind, attributes }, parent);
}

function taskAttributes(message: DispatchMessage): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'taskwire.run_id': message.runId,
    'taskwire.node_id': message.node,
    'taskwire.task': message.task,
    'taskwire.attempt': message.attempt,
    'taskwire.kind': message.kind,
  };
  if (message.activation !== undefined) attributes['taskwire.activation'] = message.activation;
  return attributes;
}

function serialise(span: Span): string | undefined {
  if (!span.isRecording() && !trace.isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier['traceparent'];
}

function extract(traceparent: string): Context {
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}
