/**
 * The one maximum encoded message size, enforced where work is produced: a
 * dispatch a step would publish that exceeds it is never published (the
 * broker would refuse it, and the outbox would try it for ever). The caller of
 * a client event gets a `TW_TOO_LARGE` error; a node whose inputs grew too
 * large from upstream results fails with that code.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { Command, DispatchCommand, EngineEvent } from '../engine/events.js';
import { TooLargeError } from '../errors.js';
import { surelyFits } from '../transport/limits.js';
import type { Failure } from '../model/failure.js';
import { DISPATCH_ENVELOPE_BYTES } from '../transport/limits.js';

/** A dispatch over the limit, with its size. */
export interface Oversized {
  /** Its index in the commands. */
  index: number;
  /** The dispatch. */
  command: DispatchCommand;
  /** Its encoded size as published (with {@link DISPATCH_ENVELOPE_BYTES}), in bytes. */
  bytes: number;
}

/**
 * The dispatches of `commands`, from index `from` on, that would exceed
 * `maxBytes` as published: their JSON and what transports add on the way
 * ({@link DISPATCH_ENVELOPE_BYTES}).
 */
export function oversizedDispatches(commands: readonly Command[], from: number, maxBytes: number): Oversized[] {
  const found: Oversized[] = [];
  for (let index = from; index < commands.length; index++) {
    const command = commands[index] as Command;
    if (command.type !== 'dispatch' || surelyFits(command, maxBytes)) continue;
    const text = JSON.stringify(command);
    if (text.length * 3 + DISPATCH_ENVELOPE_BYTES <= maxBytes) continue; // cannot exceed it, whatever the characters
    const bytes = Buffer.byteLength(text, 'utf8') + DISPATCH_ENVELOPE_BYTES;
    if (bytes > maxBytes) found.push({ index, command, bytes });
  }
  return found;
}

/** The error for an oversized dispatch, naming its node and task. */
export function tooLargeError(over: Oversized, maxBytes: number): TooLargeError {
  const { command, bytes } = over;
  const what = command.kind === 'rollback' ? 'rollback' : 'dispatch';
  return new TooLargeError(`the ${what} of node "${command.node}" (task "${command.task}") of run "${command.runId}"`, bytes, maxBytes);
}

/** The event that fails the execution an oversized dispatch was for (not retryable). */
export function tooLargeEvent(over: Oversized, maxBytes: number): EngineEvent {
  const error = tooLargeError(over, maxBytes);
  const failure: Failure = { name: error.name, message: error.message, code: error.code, retryable: false };
  const { command } = over;
  const ref = command.activation === undefined ? { node: command.node, attempt: command.attempt } : { node: command.node, attempt: command.attempt, activation: command.activation };
  return { type: command.kind === 'rollback' ? 'rollback.failed' : 'task.failed', ...ref, error: failure };
}
