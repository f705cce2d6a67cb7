/**
 * The parts a client is wired from, shared by its run handles.
 *
 * @packageDocumentation
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import { UnknownTaskError } from '../errors.js';
import type { ConditionRegistry } from '../model/condition.js';
import type { NodeDefinition } from '../model/definition.js';
import type { AnyNode } from '../model/node.js';
import type { JsonObject } from '../codec/json.js';
import { encodeValue } from '../codec/value.js';
import { checkInputNames, checkName } from '../model/names.js';
import type { Store, TaskInfo } from '../store/port.js';
import type { Transport } from '../transport/port.js';
import type { TaskRegistry } from '../worker/registry.js';
import type { RunWriter } from './writer.js';

/** What a client and its run handles work with. */
export interface RuntimeParts {
  /** Where runs live. */
  store: Store;
  /** The bus. */
  transport: Transport;
  /** This process's coordinator: steps signals of the shards it owns (embedded: every run). */
  coordinator: Coordinator;
  /** Steps the client's starts, notifications and changes (see `writer.ts`). */
  writer: RunWriter;
  /** Tasks this process knows. */
  registry: TaskRegistry;
  /** Conditions this process knows (its coordinator evaluates them). */
  conditions: ConditionRegistry;
  /** Who changes runs, in their history. */
  actor: string;
  /** How often wait() re-reads the run when no announcement arrives. */
  pollIntervalMs: number;
  /** Called after tasks are registered (resumes the runs found at connect that waited for them). */
  afterRegister?: () => void;
  /** Called after a schedule was created or changed in this process (its ticker reads the schedules again). */
  scheduleChanged?: () => void;
}

/** A node named by its task, for processes that do not have the task's code (the CLI). */
export interface TaskRef {
  /** Registered task name (known to this process or published by a worker in the catalog). */
  task: string;
  /** Node id. @default the task name */
  id?: string;
  /** Bound inputs. */
  bound?: Record<string, unknown>;
  /** Persistent listener. @default false */
  persistent?: boolean;
}

/** What is known of a task: this process's registry first, then the store's catalog. */
export async function findTask(name: string, parts: RuntimeParts): Promise<TaskInfo | undefined> {
  const local = parts.registry.get(name);
  if (local !== undefined) return parts.registry.infos().find((info) => info.name === name);
  return (await parts.store.tasks()).find((info) => info.name === name);
}

/**
 * The definition of a node given to a live change. A node object registers its
 * task locally; a definition or a task reference must name a known task.
 */
export async function nodeDefinitionOf(node: AnyNode | NodeDefinition | TaskRef, parts: RuntimeParts): Promise<NodeDefinition> {
  if ('definition' in node) {
    if (node.kind === 'task') parts.registry.register(node.task);
    return node.definition();
  }
  const name = 'task' in node ? node.task : node.kind === 'task' ? node.name : undefined;
  if (name === undefined) return node as NodeDefinition;
  const info = await findTask(name, parts);
  if (info === undefined) throw new UnknownTaskError(name, 'this process nor the task catalog (no worker has registered it)');
  if (!('task' in node)) return node;
  const id = checkName(node.id ?? name, `node of task "${name}": id`);
  const { name: _name, ...fields } = info;
  const bound = checkInputNames(encodeValue(node.bound ?? {}, `the bound inputs of node "${id}"`) as JsonObject, `node "${id}": bound`);
  return { id, kind: 'task', name, bound, persistent: node.persistent ?? false, ...fields };
}
