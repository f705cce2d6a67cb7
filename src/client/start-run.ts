/**
 * Starting a run, once its flow and inputs are decoded and checked: what
 * `Client.start` and a schedule's tick (`runtime/schedule-ticker.ts`) share.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { FlowDefinition } from '../model/definition.js';
import { validateFlow } from '../model/validate.js';
import { traceRunStart } from '../observability/tracing.js';
import type { RuntimeParts } from './parts.js';

/** A run to start (see {@link startRun}). */
export interface RunStart {
  /** The run id (checked). Starting an id that exists with the same flow and inputs is a no-op. */
  id: string;
  /** The flow. */
  definition: FlowDefinition;
  /** Its inputs, encoded. */
  inputs: JsonObject;
  /** Validate the flow first (tasks known to this process or the store's catalog). */
  validate: boolean;
  /** Start at this time (epoch ms); undefined: now. */
  startAt?: number;
}

/**
 * Validates a flow to start with `inputs`: tasks known to this process or
 * published in the store's catalog, conditions registered in this process.
 *
 * @throws ValidationError when it does not validate.
 */
export async function validateStart(parts: RuntimeParts, definition: FlowDefinition, inputs: JsonObject): Promise<void> {
  const unregistered = definition.nodes.some((n) => n.kind === 'task' && !parts.registry.has(n.name));
  const catalog = unregistered ? new Set((await parts.store.tasks()).map((t) => t.name)) : new Set<string>();
  validateFlow(definition, { inputs, isKnownTask: (name) => parts.registry.has(name) || catalog.has(name), isKnownCondition: (name) => parts.conditions.has(name) });
}

/**
 * Validates the flow (when asked) and hands the start to the run's writer.
 *
 * @throws ValidationError when the flow does not validate; whatever the writer rejects with.
 */
export async function startRun(parts: RuntimeParts, start: RunStart): Promise<void> {
  const { id, definition, inputs, validate, startAt } = start;
  if (validate) await validateStart(parts, definition, inputs);
  const traceparent = traceRunStart(id, definition.name);
  await parts.writer.start({ runId: id, definition, inputs, validate, ...(traceparent === undefined ? {} : { traceparent }), ...(startAt === undefined ? {} : { startAt }) });
}
