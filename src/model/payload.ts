/**
 * Checking an event's payload against the fields the event declares.
 *
 * @packageDocumentation
 */
import { ValidationError, type ValidationProblem } from '../errors.js';
import type { NodeDefinition } from './definition.js';

/**
 * Throws a {@link ValidationError} when `payload` lacks a field that one of the
 * listening event nodes declares in `provides` (events without declared
 * provides take any payload). Every missing field is named, once.
 */
export function checkPayload(event: string, listeners: Iterable<NodeDefinition>, payload: Readonly<Record<string, unknown>>): void {
  const missing = new Map<string, Set<string>>(); // field -> event node ids declaring it
  for (const node of listeners) {
    for (const field of node.provides ?? []) {
      if (Object.hasOwn(payload, field) && payload[field] !== undefined) continue;
      const nodes = missing.get(field);
      if (nodes === undefined) missing.set(field, new Set([node.id]));
      else nodes.add(node.id);
    }
  }
  if (missing.size === 0) return;
  const problems: ValidationProblem[] = [...missing].map(([field, nodes]) => ({
    kind: 'missing-input',
    nodes: [...nodes],
    message: `the payload lacks field "${field}", which event "${event}" declares in provides`,
  }));
  throw new ValidationError(problems, `notification of event "${event}" (no run was notified)`);
}
