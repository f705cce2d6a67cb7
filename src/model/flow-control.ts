/**
 * Flow control of a task's executions: a concurrency limit held across every
 * worker and coordinator (per task, or per value of one of its inputs), a rate
 * limit, and priorities. The limits are task options; the priority is a node
 * option (or a run's, for its nodes without one). See docs/flow-control.md.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { checkKeys, optionKeys } from './options.js';
import { checkName } from './names.js';
import type { FlowDefinition } from './definition.js';

/** At most `concurrency` executions of the task at once, in the whole deployment. */
export interface ConcurrencyLimit {
  /** Executions at once (an integer from 1). */
  concurrency: number;
  /**
   * An input name: the limit holds per value of that input (`customer`: at
   * most `concurrency` executions at once for one customer). Left out, it
   * holds for the task as a whole.
   */
  key?: string;
}

/** At most `count` executions of the task start in any `perMs` milliseconds. */
export interface RateLimit {
  /** Starts per interval (an integer from 1). */
  count: number;
  /** The interval, in milliseconds (from 1). */
  perMs: number;
}

/**
 * How early a node's executions go before others waiting at the same limit,
 * and in the queues. `high` overtakes queued `normal` and `low` work.
 */
export type Priority = 'high' | 'normal' | 'low';

/** Every {@link Priority}, highest first. */
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/** The default {@link Priority}. */
export const DEFAULT_PRIORITY: Priority = 'normal';

/** A priority as a rank: higher goes first (high 2, normal 1, low 0). */
export function priorityRank(priority: Priority | undefined): number {
  return priority === 'high' ? 2 : priority === 'low' ? 0 : 1;
}

const LIMIT_KEYS = optionKeys<ConcurrencyLimit>({ concurrency: true, key: true });
const RATE_KEYS = optionKeys<RateLimit>({ count: true, perMs: true });

/** Whether `value` is an integer from `min`. */
function atLeast(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

/**
 * Checks a task's `limit` option.
 * @throws ConfigError naming `owner` and the field at fault.
 */
export function checkLimit(limit: ConcurrencyLimit | undefined, owner: string): ConcurrencyLimit | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== 'object' || limit === null) throw new ConfigError(`${owner}: limit expected an object { concurrency, key? }, got ${String(limit)}`);
  checkKeys(limit, LIMIT_KEYS, `${owner}: limit`);
  if (!atLeast(limit.concurrency, 1)) throw new ConfigError(`${owner}: limit.concurrency expected an integer from 1, got ${String(limit.concurrency)}`);
  if (limit.key === undefined) return { concurrency: limit.concurrency };
  return { concurrency: limit.concurrency, key: checkName(limit.key, `${owner}: limit.key`) };
}

/**
 * Checks a task's `rate` option.
 * @throws ConfigError naming `owner` and the field at fault.
 */
export function checkRate(rate: RateLimit | undefined, owner: string): RateLimit | undefined {
  if (rate === undefined) return undefined;
  if (typeof rate !== 'object' || rate === null) throw new ConfigError(`${owner}: rate expected an object { count, perMs }, got ${String(rate)}`);
  checkKeys(rate, RATE_KEYS, `${owner}: rate`);
  if (!atLeast(rate.count, 1)) throw new ConfigError(`${owner}: rate.count expected an integer from 1, got ${String(rate.count)}`);
  if (!atLeast(rate.perMs, 1)) throw new ConfigError(`${owner}: rate.perMs expected an integer number of ms from 1, got ${String(rate.perMs)}`);
  return { count: rate.count, perMs: rate.perMs };
}

/**
 * Checks a `priority` option.
 * @throws ConfigError naming `owner` when it is not one of {@link PRIORITIES}.
 */
export function checkPriority(priority: Priority | undefined, owner: string): Priority | undefined {
  if (priority === undefined || PRIORITIES.includes(priority)) return priority;
  throw new ConfigError(`${owner}: priority expected one of ${PRIORITIES.map((p) => `"${p}"`).join(', ')}, got ${JSON.stringify(priority)}`);
}

/**
 * A run's priority (`start(..., { priority })`) given to the task nodes of
 * `definition` that have none of their own; the definition itself when
 * `priority` is undefined. Nodes added to the run later keep their own (or `normal`).
 */
export function withPriority(definition: FlowDefinition, priority: Priority | undefined): FlowDefinition {
  if (priority === undefined) return definition;
  return { ...definition, nodes: definition.nodes.map((node) => (node.kind === 'task' && node.priority === undefined ? { ...node, priority } : node)) };
}
