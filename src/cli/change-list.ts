/**
 * The JSON list of changes the `change` command takes: the same objects as
 * `run.change([...])` with node ids, a task reference for `add`, and
 * `{ task?, bound? }` for `replace`. Each object is checked (its `op`, its
 * fields and their types; an unknown field is an error naming it) before
 * anything is sent.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { array, boolean, check, integer, json, jsonObject, literal, nullable, object, optional, record, string, type Schema } from '../codec/schema.js';
import type { LinkTarget, RunChange } from '../client/run-changes.js';
import { ConfigError } from '../errors.js';
import { CONDITION_DEPTHS } from '../model/condition.js';
import { describeChange } from './commands/inspect.js';

const id = string({ minLength: 1 });
const map = optional(record(string({ minLength: 1 })));
const linkObject = object({ node: id, map });
const linkTarget: Schema<LinkTarget> = {
  expected: 'a node id or { node, map }',
  run: (value, path) => (typeof value === 'string' ? id.run(value, path) : linkObject.run(value, path)),
};

/** The fields of each op (besides `op`). */
const FIELDS = {
  add: {
    node: object({ task: id, id: optional(id), bound: optional(jsonObject()), persistent: optional(boolean()) }),
    sources: optional(array(linkTarget)),
    listeners: optional(array(linkTarget)),
  },
  remove: { node: id },
  link: { from: id, to: id, map },
  unlink: { from: id, to: id },
  relink: { node: id, from: id, to: id, map },
  replace: { node: id, with: object({ task: optional(id), bound: optional(jsonObject()) }) },
  retry: { node: id, activation: optional(integer({ min: 0 })) },
  skip: { node: id, result: optional(json()) },
  condition: { from: id, to: id, condition: nullable(object({ name: id, on: optional(id), depth: literal(...CONDITION_DEPTHS) })) },
  cancel: {},
  stop: {},
} as const;

type Op = keyof typeof FIELDS;
const OPS = Object.keys(FIELDS) as Op[];
const opSchema = literal(...OPS);

function parseChange(value: unknown, at: number): RunChange {
  const what = `change ${at + 1}`;
  const { op } = check(object({ op: opSchema }), value, what);
  const fields = FIELDS[op];
  for (const key of Object.keys(value as object)) {
    if (key !== 'op' && !Object.hasOwn(fields, key)) {
      throw new ConfigError(`${what} (${op}) has an unknown field "${key}"; its fields are: ${['op', ...Object.keys(fields)].join(', ')}`);
    }
  }
  return { op, ...check(object(fields), value, what) } as RunChange;
}

/** Parses a JSON list of changes (a single change object is a list of one). */
export function parseChangeList(value: unknown): RunChange[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ConfigError('the list of changes is empty');
  return list.map(parseChange);
}

/** One line naming the changes of a list, as the history shows them. */
export function describeChangeList(changes: readonly RunChange[]): string {
  return changes
    .map((change) => {
      if (change.op !== 'add') return describeChange(change as JsonObject);
      const ref = change.node as { task: string; id?: string };
      return describeChange({ op: 'add', node: ref.id ?? ref.task, task: ref.task });
    })
    .join(', ');
}
