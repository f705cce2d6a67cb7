/**
 * The parts a client is wired from, shared by its run handles.
 *
 * @packageDocumentation
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import { UnknownTaskError } from '../errors.js';
import type { NodeDefinition } from '../model/definition.js';
import type { AnyNode } from '../model/node.js';
import type { Store } from '../store/port.js';
import type { Transport } from '../transport/port.js';
import type { TaskRegistry } from '../worker/registry.js';

/** What a client and its run handles work with. */
export interface RuntimeParts {
  /** Where runs live. */
  store: Store;
  /** The bus. */
  transport: Transport;
  /** Steps changes (and, embedded, signals). */
  coordinator: Coordinator;
  /** Tasks this process knows. */
  registry: TaskRegistry;
  /** Who changes runs, in their history. */
  actor: string;
  /** How often wait() re-reads the run when no announcement arrives. */
  pollIntervalMs: number;
  /** Whether tasks of unknown names are refused (embedded: the local registry is the only executor). */
  checkTasks: boolean;
}

/** The definition of a node given to a live change, registering its task locally. */
export function nodeDefinitionOf(node: AnyNode | NodeDefinition, parts: RuntimeParts): NodeDefinition {
  if ('definition' in node) {
    if (node.kind === 'task') parts.registry.register(node.task);
    return node.definition();
  }
  if (node.kind === 'task' && parts.checkTasks && !parts.registry.has(node.name)) throw new UnknownTaskError(node.name);
  return node;
}
