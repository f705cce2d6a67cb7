/**
 * The listening event nodes as the SQL stores read them (see `Store.listeners`).
 *
 * @packageDocumentation
 */
import { CorruptRowError } from '../errors.js';
import type { EventListener } from './port.js';

/**
 * An event listener from its columns; `provides` is the node definition's
 * field as read (an array of names, or null/undefined when none is declared).
 * @throws CorruptRowError when `provides` is something else.
 */
export function listenerOf(runId: string, event: string, node: string, provides: unknown): EventListener {
  const listener: EventListener = { runId, event, node };
  if (provides === null || provides === undefined) return listener;
  if (!Array.isArray(provides) || !provides.every((field) => typeof field === 'string')) {
    throw new CorruptRowError('nodes', runId, `node "${node}": def.provides is not a list of names`);
  }
  listener.provides = provides;
  return listener;
}
