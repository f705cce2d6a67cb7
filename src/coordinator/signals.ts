/**
 * Signals from workers, as engine events.
 *
 * @packageDocumentation
 */
import type { EngineEvent } from '../engine/events.js';
import type { SignalMessage } from '../transport/port.js';

/** The engine event a worker's signal stands for. */
export function signalToEvent(signal: SignalMessage): EngineEvent {
  const ref = signal.activation === undefined ? { node: signal.node, attempt: signal.attempt } : { node: signal.node, attempt: signal.attempt, activation: signal.activation };
  switch (signal.type) {
    case 'task.succeeded':
      return { type: 'task.succeeded', ...ref, result: signal.result };
    case 'task.failed':
      return { type: 'task.failed', ...ref, error: signal.error };
    case 'rollback.succeeded':
      return { type: 'rollback.succeeded', ...ref };
    case 'rollback.failed':
      return { type: 'rollback.failed', ...ref, error: signal.error };
    case 'task.heartbeat':
      return { type: 'task.heartbeat', ...ref, leaseMs: signal.leaseMs };
  }
}
