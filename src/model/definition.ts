/**
 * The serialised shape of a flow: plain JSON, never functions. A coordinator that
 * has none of the task code can run it, a run can be stored and resumed anywhere.
 *
 * Glossary:
 * - task: a named unit of work, registered in every process that executes it.
 * - node: one use of a task (or of an event source) inside a flow, with an id unique in it.
 * - source: a node another node listens to (a link `from`).
 * - provides / requires: the names a node publishes its result as, and the inputs it needs.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { ConditionDepth } from './condition.js';
import type { ConcurrencyLimit, Priority, RateLimit } from './flow-control.js';

/** How often and how fast a failed task is tried again. */
export interface RetryPolicy {
  /**
   * Retries after the first attempt (so `limit: 2` means at most 3 attempts).
   * @default 0
   */
  limit: number;
  /**
   * Delay before the first retry, in milliseconds.
   * @default 1000
   */
  initialDelayMs: number;
  /**
   * Factor applied to the delay after each retry (exponential backoff).
   * @default 2
   */
  factor: number;
  /**
   * Upper bound of any delay, in milliseconds.
   * @default 60000
   */
  maxDelayMs: number;
  /**
   * Fraction of the delay that is randomised (0 = none, 1 = full jitter).
   * The jitter is derived deterministically from the run, node and attempt.
   * @default 0.2
   */
  jitter: number;
}

/** What a run does when a node fails after its last retry. */
export type FailurePolicy = 'halt' | 'rollback';

/** A node of a flow, as data. */
export interface NodeDefinition {
  /** Unique in its flow or run. */
  id: string;
  /** `task` runs a registered task; `event` is an external source that is notified. */
  kind: 'task' | 'event';
  /** The registered task name (kind `task`) or the event name (kind `event`). */
  name: string;
  /** Inputs bound up front. They win over upstream values and flow inputs. */
  bound: JsonObject;
  /** Input names the node needs before it can run. */
  requires: string[];
  /** Optional inputs: passed when some source or the flow provides them, never waited for. */
  optional: string[];
  /**
   * Names its result is published as. One name: the whole result. Several: the
   * result must be an object and each name takes the field of that name. For an
   * event, `undefined` means the payload's fields, whatever they are.
   */
  provides: string[] | undefined;
  /** Runs once per notification instead of once. */
  persistent: boolean;
  /** Whether the task defines a rollback (known to the coordinator without the code). */
  rollback: boolean;
  /** Retry policy of this node. */
  retry: RetryPolicy;
  /** Timeout of one attempt, in milliseconds; 0 means none. */
  timeoutMs: number;
  /** The work queue the node is dispatched to. */
  queue: string;
  /** The task's concurrency limit, held across the deployment (see docs/flow-control.md); absent: none. */
  limit?: ConcurrencyLimit;
  /** The task's rate limit; absent: none. */
  rate?: RateLimit;
  /** The node's priority; absent: the run's, else `normal`. */
  priority?: Priority;
  /**
   * The subflow the node belongs to (its innermost scope: a {@link ScopeDefinition} id),
   * absent for a node of the top-level flow.
   */
  scope?: string;
  /** A map node: the required input holding the list it fans out over, one child per element (docs/map-collect.md). */
  each?: string;
  /** A map node: at most this many children run at once (absent: no bound). */
  concurrency?: number;
  /** Inputs that collect the values of every source into one list, in link order (a map source's list spread into it). */
  collect?: string[];
}

/** `to` listens to `from`. */
export interface LinkDefinition {
  /** Source node id. */
  from: string;
  /** Listener node id. */
  to: string;
  /**
   * Renames: listener input name → name provided by the source. Names not in the
   * map pass by equality. Empty when names match or for a pure ordering link.
   */
  map: Record<string, string>;
  /** True when the link was inferred from matching provides/requires names. */
  inferred: boolean;
  /** A condition on the source's result: the listener runs only if it holds (see {@link LinkCondition}). Absent: always. */
  condition?: LinkCondition;
}

/**
 * A link's condition, as data: the registered condition's name, the value it
 * reads and how far a false decision skips. A node with conditional incoming
 * links runs if any of them holds (and its other sources notified and inputs
 * resolve); it is skipped when all are false. See docs/conditions.md.
 */
export interface LinkCondition {
  /** Registered condition name. */
  name: string;
  /** The source's provided value the condition tests; absent: its whole result. */
  on?: string;
  /** How far a skip reaches: the listener alone, or every node downstream of it. */
  depth: ConditionDepth;
}

/**
 * A subflow used as a node of another flow: a scope whose nodes (ids prefixed
 * with the scope's id and "/") share a failure policy and a retry budget.
 */
export interface ScopeDefinition {
  /** The subflow node's id: the prefix of its nodes' ids (`payment` for `payment/charge`); nested scopes read `a/b`. */
  id: string;
  /**
   * What happens when a node of the scope fails for good: `halt` passes the
   * failure on to the enclosing scope (or the run); `rollback` first
   * compensates the scope's completed nodes, latest first, then the scope fails
   * as one node of the enclosing scope.
   */
  onFailure: FailurePolicy;
  /**
   * Times the whole scope runs again after it failed (its completed nodes
   * compensated first, whatever its policy), before its failure is passed on.
   */
  retry: number;
}

/** A flow as plain JSON. */
export interface FlowDefinition {
  /** Flow name. */
  name: string;
  /** Nodes in insertion order. */
  nodes: NodeDefinition[];
  /** Links in insertion order. */
  links: LinkDefinition[];
  /** What happens when a node fails for good. */
  onFailure: FailurePolicy;
  /** The subflows' scopes, outermost first; absent when the flow has none. */
  scopes?: ScopeDefinition[];
}

/** Values a node publishes, by provided name. */
export type ProvidedValues = JsonObject;

/** Re-exported for model users. */
export type { Json, JsonObject };
