/**
 * Decoding raw flow definitions and live changes (as a client, the CLI or a
 * file may hand them over, not built through the model API): every field
 * checked, every name and id checked against the naming rule, a fresh object
 * returned that holds only the known fields.
 *
 * @packageDocumentation
 */
import type { Change, LinkSpec } from '../engine/events.js';
import { CONDITION_DEPTHS } from '../model/condition.js';
import type { FlowDefinition, LinkCondition, LinkDefinition, NodeDefinition, RetryPolicy, ScopeDefinition } from '../model/definition.js';
import { NameSchema, NodeIdSchema } from '../model/names.js';
import { PRIORITIES, type ConcurrencyLimit, type Priority, type RateLimit } from '../model/flow-control.js';
import { array, boolean, check, integer, json, literal, matching, nullable, object, optional, record, type Schema } from './schema.js';

const name = NameSchema;
const nodeId = NodeIdSchema;
const names = array(name);
const nonNegative = matching('a finite number >= 0', (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0);
const renames = record(name, name);

const RetrySchema: Schema<RetryPolicy> = object({
  limit: integer({ min: 0 }),
  initialDelayMs: nonNegative,
  factor: matching('a finite number >= 1', (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 1),
  maxDelayMs: nonNegative,
  jitter: matching('a number from 0 to 1', (v): v is number => typeof v === 'number' && v >= 0 && v <= 1),
});

const LimitSchema: Schema<ConcurrencyLimit> = object({ concurrency: integer({ min: 1 }), key: optional(name) });
const RateSchema: Schema<RateLimit> = object({ count: integer({ min: 1 }), perMs: integer({ min: 1 }) });
const PrioritySchema: Schema<Priority> = literal(...PRIORITIES);

const nodeFields = {
  kind: literal('task', 'event'),
  name,
  bound: record(json(), name),
  requires: names,
  optional: names,
  provides: optional(names),
  persistent: boolean(),
  rollback: boolean(),
  retry: RetrySchema,
  timeoutMs: nonNegative,
  queue: name,
  limit: optional(LimitSchema),
  rate: optional(RateSchema),
  priority: optional(PrioritySchema),
};

/** A {@link NodeDefinition} (`provides` may be absent: an event providing its payload's fields). */
export const NodeDefinitionSchema = object({
  id: nodeId,
  ...nodeFields,
  scope: optional(nodeId),
  each: optional(name),
  concurrency: optional(integer({ min: 1 })),
  collect: optional(names),
}) as Schema<NodeDefinition>;

/** A {@link LinkCondition}. */
const LinkConditionSchema: Schema<LinkCondition> = object({ name, on: optional(name), depth: literal(...CONDITION_DEPTHS) });

const LinkSchema: Schema<LinkDefinition> = object({ from: nodeId, to: nodeId, map: renames, inferred: boolean(), condition: optional(LinkConditionSchema) });

/** A {@link FlowDefinition}. */
export const FlowDefinitionSchema: Schema<FlowDefinition> = object({
  name,
  nodes: array(NodeDefinitionSchema),
  links: array(LinkSchema),
  onFailure: literal('halt', 'rollback'),
  scopes: optional(array<ScopeDefinition>(object({ id: nodeId, onFailure: literal('halt', 'rollback'), retry: integer({ min: 0 }) }))),
});

const linkSpecs = optional(array<LinkSpec>(object({ node: nodeId, map: optional(renames) })));
const replacement = object({
  name: optional(name),
  bound: optional(nodeFields.bound),
  requires: optional(names),
  optional: optional(names),
  provides: optional(names),
  persistent: optional(boolean()),
  rollback: optional(boolean()),
  retry: optional(RetrySchema),
  timeoutMs: optional(nonNegative),
  queue: optional(name),
  limit: optional(LimitSchema),
  rate: optional(RateSchema),
  priority: optional(PrioritySchema),
}) as Schema<Partial<Omit<NodeDefinition, 'id' | 'kind'>>>;

const changeVariants: Record<Change['op'], Schema<Change>> = {
  add: object({ op: literal('add'), node: NodeDefinitionSchema, sources: linkSpecs, listeners: linkSpecs }),
  remove: object({ op: literal('remove'), node: nodeId }),
  link: object({ op: literal('link'), from: nodeId, to: nodeId, map: optional(renames) }),
  unlink: object({ op: literal('unlink'), from: nodeId, to: nodeId }),
  relink: object({ op: literal('relink'), node: nodeId, from: nodeId, to: nodeId, map: optional(renames) }),
  replace: object({ op: literal('replace'), node: nodeId, with: replacement }),
  retry: object({ op: literal('retry'), node: nodeId, activation: optional(integer({ min: 0 })) }),
  skip: object({ op: literal('skip'), node: nodeId, result: optional(json()) }),
  condition: object({ op: literal('condition'), from: nodeId, to: nodeId, condition: nullable(LinkConditionSchema) }),
  cancel: object({ op: literal('cancel') }),
  stop: object({ op: literal('stop') }),
};

const changeOp = object({ op: literal(...(Object.keys(changeVariants) as Change['op'][])) });

/** A {@link Change}, discriminated by `op`. */
export const ChangeSchema: Schema<Change> = {
  expected: 'a change',
  run(value, path) {
    const { op } = changeOp.run(value, path);
    return changeVariants[op].run(value, path);
  },
};

/** Checks a raw flow definition; throws a `TW_DECODE` error naming the field at fault. */
export function decodeFlowDefinition(raw: unknown): FlowDefinition {
  return check(FlowDefinitionSchema, raw, 'flow definition');
}

/** Checks a raw change; throws a `TW_DECODE` error naming the field at fault. */
export function decodeChange(raw: unknown): Change {
  return check(ChangeSchema, raw, 'change');
}
