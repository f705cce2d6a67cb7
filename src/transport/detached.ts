/**
 * Signals handed over in memory (the in-process transport, the AMQP
 * transport's local signals): the task's result is copied at the boundary, so
 * that task code never shares objects with the engine's state.
 *
 * @packageDocumentation
 */
import { clonePlain } from '../codec/clone.js';
import type { SignalMessage } from './port.js';

/** A signal with its own copy of the task's result, which the task may still hold (a scalar needs none). */
export function detachedSignal(message: SignalMessage): SignalMessage {
  if (message.type !== 'task.succeeded' || message.result === null || typeof message.result !== 'object') return message;
  return { ...message, result: clonePlain(message.result) };
}
