/**
 * Signals from workers, as engine events.
 *
 * @packageDocumentation
 */
import type { EngineEvent, ExecutionRef } from '../engine/events.js';
import type { SignalMessage } from '../transport/port.js';

/**
 * The engine event a worker's signal stands for. Built in one literal per type
 * (no shared reference object spread into each): this runs for every signal.
 */
export function signalToEvent(signal: SignalMessage): EngineEvent {
  const event = eventOf(signal);
  if (signal.activation !== undefined) event.activation = signal.activation;
  return event;
}

function eventOf(signal: SignalMessage): EngineEvent & ExecutionRef {
  const { node, attempt } = signal;
  switch (signal.type) {
    case 'task.started':
      return { type: 'task.started', node, attempt, startedAt: signal.startedAt };
    case 'task.succeeded':
      return signal.startedAt === undefined
        ? { type: 'task.succeeded', node, attempt, result: signal.result }
        : { type: 'task.succeeded', node, attempt, result: signal.result, startedAt: signal.startedAt };
    case 'task.failed':
      return signal.startedAt === undefined ? { type: 'task.failed', node, attempt, error: signal.error } : { type: 'task.failed', node, attempt, error: signal.error, startedAt: signal.startedAt };
    case 'rollback.succeeded':
      return { type: 'rollback.succeeded', node, attempt };
    case 'rollback.failed':
      return { type: 'rollback.failed', node, attempt, error: signal.error };
    case 'task.heartbeat':
      return { type: 'task.heartbeat', node, attempt, leaseMs: signal.leaseMs };
  }
}
