/**
 * Loading a flow file for the CLI. The convention: a TypeScript or JavaScript
 * module whose default export (or export named `flow`) is a `Flow`, or a
 * function returning one (sync or async). An optional export `inputs` gives
 * default flow inputs. The tasks the flow uses, and every other task the file
 * exports, are registered from it; so are the conditions its links use (by
 * starting it). A coordinator takes conditions from a module with `--conditions`
 * ({@link loadConditions}).
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import type { AnyCondition } from '../model/condition.js';
import type { Flow } from '../model/flow.js';
import type { AnyTask } from '../model/task.js';

/** What a flow file gives. */
export interface LoadedFlow {
  /** The flow. */
  flow: Flow;
  /** Default inputs exported by the file. */
  inputs: Record<string, unknown>;
  /** The flow's tasks and every other task the file exports (a change may add a node of one while the run runs). */
  tasks: AnyTask[];
}

/** Imports a module, TypeScript included (through tsx), and gives its exports ({@link moduleExports}). */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`file not found: ${file}`);
  try {
    if (/\.[cm]?tsx?$/.test(path)) {
      const { tsImport } = await import('tsx/esm/api');
      return moduleExports((await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>);
    }
    return moduleExports((await import(pathToFileURL(path).href)) as Record<string, unknown>);
  } catch (error) {
    // The file's own error (a throw at its top level, a syntax error, a missing import), named with the file; `--debug` prints its stack.
    const message = error instanceof Error ? error.message : String(error);
    const wrapped = new ConfigError(`${file}: loading it threw: ${message.split('\n')[0]} (--debug prints the stack)`);
    Object.defineProperty(wrapped, 'cause', { value: error, enumerable: false, writable: true, configurable: true });
    throw wrapped;
  }
}

/**
 * The exports of an imported module. A module compiled to CommonJS (a `.ts` file
 * outside a `"type": "module"` package, as tsx loads it from the installed
 * command; a `.cjs` file built from ESM) arrives as `{ default: module.exports }`
 * with `__esModule` set on `module.exports`: its exports are `module.exports`,
 * so that its `default` is the file's default export.
 */
export function moduleExports(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace['default'];
  if (typeof inner === 'object' && inner !== null && (inner as { __esModule?: unknown }).__esModule === true) return inner as Record<string, unknown>;
  return namespace;
}

/** Loads a flow file (see the module doc for the convention). */
export async function loadFlow(file: string): Promise<LoadedFlow> {
  const module = await importModule(file);
  let exported = module['default'] ?? module['flow'];
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  if (!isFlow(exported)) {
    throw new ConfigError(`${file}: expected a default export (or an export named "flow") that is a Flow or a function returning one, got ${describe(exported)}`);
  }
  const inputs = module['inputs'];
  const tasks = exportedTasks(module);
  for (const t of exported.tasks()) tasks.add(t);
  return { flow: exported, inputs: typeof inputs === 'object' && inputs !== null ? (inputs as Record<string, unknown>) : {}, tasks: [...tasks] };
}

/** Loads a tasks module for a worker: every exported task (also inside exported arrays or objects). */
export async function loadTasks(file: string): Promise<AnyTask[]> {
  const found = exportedTasks(await importModule(file));
  if (found.size === 0) throw new ConfigError(`${file}: exports no task`);
  return [...found];
}

/**
 * Loads a conditions module for a coordinator: every exported condition (also
 * inside exported arrays or objects) and those the links of exported flows use.
 * `required`: a module that exports none is an error (a `--conditions` module;
 * a `--tasks` module read for its conditions may have none).
 */
export async function loadConditions(file: string, required = true): Promise<AnyCondition[]> {
  const module = await importModule(file);
  const found = new Set<AnyCondition>();
  const visit = (value: unknown, depth: number): void => {
    if (isCondition(value)) found.add(value);
    else if (isFlow(value)) for (const c of value.conditions()) found.add(c);
    else if (depth < 2 && typeof value === 'object' && value !== null) for (const v of Object.values(value)) visit(v, depth + 1);
  };
  for (const value of Object.values(module)) visit(value, 0);
  if (required && found.size === 0) throw new ConfigError(`${file}: exports no condition (made by condition(name, test)) and no flow using one`);
  return [...found];
}

/** The tasks a module exports: tasks, the tasks of exported flows, and those inside exported arrays or objects. */
function exportedTasks(module: Record<string, unknown>): Set<AnyTask> {
  const found = new Set<AnyTask>();
  const visit = (value: unknown, depth: number): void => {
    if (isTask(value)) found.add(value);
    else if (isFlow(value)) for (const t of value.tasks()) found.add(t);
    else if (depth < 2 && typeof value === 'object' && value !== null) for (const v of Object.values(value)) visit(v, depth + 1);
  };
  for (const value of Object.values(module)) visit(value, 0);
  return found;
}

// Duck typing, not instanceof: a file loaded through tsx may get its own copy of the model module.
function isFlow(value: unknown): value is Flow {
  return typeof value === 'object' && value !== null && typeof (value as Flow).definition === 'function' && typeof (value as Flow).tasks === 'function' && typeof (value as Flow).conditions === 'function';
}

function isCondition(value: unknown): value is AnyCondition {
  return typeof value === 'object' && value !== null && typeof (value as AnyCondition).test === 'function' && typeof (value as AnyCondition).name === 'string' && !isTask(value);
}

function isTask(value: unknown): value is AnyTask {
  return typeof value === 'object' && value !== null && typeof (value as AnyTask).apply === 'function' && typeof (value as AnyTask).s === 'function' && typeof (value as AnyTask).name === 'string';
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return typeof value === 'object' ? `an object (${(value).constructor?.name ?? 'Object'})` : typeof value;
}
