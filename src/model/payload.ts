/**
 * Checking an event's payload against the fields the event declares.
 *
 * @packageDocumentation
 */
import { ValidationError, type ValidationProblem } from '../errors.js';

/**
 * Throws a {@link ValidationError} when `payload` lacks a field that one of the
 * listening event nodes (`node`: its id) declares in `provides` (events without
 * declared provides take any payload). Every missing field is named, once.
 */
export function checkPayload(event: string, listeners: Iterable<{ readonly node: string; readonly provides?: readonly string[] | undefined }>, payload: Readonly<Record<string, unknown>>): void {
  const missing = new Map<string, Set<string>>(); // field -> event node ids declaring it
  for (const listener of listeners) {
    for (const field of listener.provides ?? []) {
      if (Object.hasOwn(payload, field) && payload[field] !== undefined) continue;
      const nodes = missing.get(field);
      if (nodes === undefined) missing.set(field, new Set([listener.node]));
      else nodes.add(listener.node);
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
