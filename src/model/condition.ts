/**
 * Conditions: predicates on a source's result that decide whether a link lets
 * its listener run. Like a task, a condition is registered by name in every
 * process that coordinates runs; only its name (with the value it reads and
 * its depth) travels in a flow definition. See docs/conditions.md.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { checkName } from './names.js';

/**
 * How far a node skipped by its conditions takes others with it:
 * - `node`: only the node; its listeners run when they can without it (a
 *   listener left without a required input is skipped too).
 * - `downstream`: the node and every node that listens to it, directly or not
 *   (TaskFlow's decider depth `ALL`).
 */
export type ConditionDepth = 'node' | 'downstream';

/** The depths, for option checks and schemas. */
export const CONDITION_DEPTHS = ['node', 'downstream'] as const satisfies readonly ConditionDepth[];

/** What a condition's test receives besides the value. */
export interface ConditionContext {
  /** The run. */
  readonly runId: string;
  /** The link's source node id. */
  readonly from: string;
  /** The link's listener node id. */
  readonly to: string;
}

/** A named predicate on a source's result. Create one with {@link condition}. */
export interface Condition<V = unknown> {
  /** Registered name: what a flow definition names. */
  readonly name: string;
  /**
   * The predicate: true lets the link's listener run. Called by the
   * coordinator, synchronously, when the listener's sources have all
   * notified, with the source's result (or its provided value `on`), decoded.
   * It must return a boolean; anything else, or a throw, fails the listener
   * (`TW_CONDITION`). It may run more than once for one link (after a
   * coordinator restart, a live change): keep it a pure function of the value.
   */
  test(value: V, context: ConditionContext): boolean;
}

/** Any condition, whatever its value type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: a Condition<V> must be usable where any condition is accepted
export type AnyCondition = Condition<any>;

/**
 * Defines a condition. The name follows the naming rule of task names.
 *
 * @example
 * const approved = condition('approved', (review: { score: number }) => review.score >= 7);
 * flo.link(review.s(), publish.s(), { when: approved });
 */
export function condition<V = unknown>(name: string, test: (value: V, context: ConditionContext) => boolean): Condition<V> {
  checkName(name, 'condition name');
  if (typeof test !== 'function') throw new ConfigError(`condition "${name}": test expected a function, got ${typeof test}`);
  return Object.freeze({ name, test });
}

/** What the engine needs of the registered conditions: the one of a name. */
export interface ConditionLookup {
  /** The condition registered under `name`, or undefined. */
  get(name: string): AnyCondition | undefined;
}

/** Conditions known to this process, by name. */
export class ConditionRegistry implements ConditionLookup {
  private readonly conditions = new Map<string, AnyCondition>();

  /** Registers conditions. The same condition twice is fine; two different ones with one name are not (`TW_CONFIG`). */
  register(...conditions: AnyCondition[]): this {
    for (const given of conditions) {
      if (typeof given?.test !== 'function' || typeof given.name !== 'string') {
        throw new ConfigError(`expected a condition (made by condition(name, test)), got ${given === null ? 'null' : typeof given}`);
      }
      const known = this.conditions.get(given.name);
      if (known !== undefined && known !== given) throw new ConfigError(`condition "${given.name}" is already registered with a different predicate`);
      this.conditions.set(given.name, given);
    }
    return this;
  }

  /** The condition of that name, or undefined. */
  get(name: string): AnyCondition | undefined {
    return this.conditions.get(name);
  }

  /** Whether a condition of that name is registered. */
  has(name: string): boolean {
    return this.conditions.has(name);
  }

  /** Registered condition names. */
  names(): string[] {
    return [...this.conditions.keys()];
  }
}

/** A lookup that knows no condition (an engine stepped without any registered). */
export const NO_CONDITIONS: ConditionLookup = { get: () => undefined };
