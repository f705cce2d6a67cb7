/**
 * The change composer's draft: the fields a user fills in for one edit, and the
 * change (as the API takes it) they describe. Pure: unit-tested in node.
 *
 * @packageDocumentation
 */
import type { ChangeJson } from './api-types.js';

/** An edit's operation. */
export type Op = ChangeJson['op'];
/** The operations, in the order the picker lists them. */
export const OPS: Op[] = ['add', 'link', 'unlink', 'relink', 'retry', 'skip', 'replace', 'remove', 'cancel', 'stop'];

/** The composer's fields (text as typed). */
export interface Draft {
  /** The operation. */
  op: Op;
  /** Task name (add, replace). */
  task: string;
  /** The added node's id (default: the task name). */
  id: string;
  /** The node concerned (relink, retry, skip, replace, remove). */
  node: string;
  /** Link source. */
  from: string;
  /** Link listener. */
  to: string;
  /** The added node's sources, comma-separated ids. */
  sources: string;
  /** The added node's listeners, comma-separated ids. */
  listeners: string;
  /** The new links' renames, `input=provided, ...`. */
  map: string;
  /** A skipped node's result, as JSON. */
  result: string;
}

/** A blank draft. */
export const EMPTY_DRAFT: Draft = { op: 'add', task: '', id: '', node: '', from: '', to: '', sources: '', listeners: '', map: '', result: '' };

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** `input=provided, ...` as a rename map (undefined when empty). */
export function renames(text: string): Record<string, string> | undefined {
  const pairs = list(text).map((pair) => pair.split('=').map((s) => s.trim()));
  if (pairs.length === 0) return undefined;
  return Object.fromEntries(pairs.map(([input, provided]) => [input!, provided ?? input!]));
}

/** The change a draft describes (throws on a result that is not JSON). */
export function changeOf(d: Draft): ChangeJson {
  const map = renames(d.map);
  switch (d.op) {
    case 'add': {
      const change: ChangeJson = { op: 'add', node: d.id === '' ? { task: d.task } : { task: d.task, id: d.id } };
      const linked = (ids: string): Array<string | { node: string; map: Record<string, string> }> => list(ids).map((node) => (map === undefined ? node : { node, map }));
      if (d.sources !== '') change.sources = linked(d.sources);
      if (d.listeners !== '') change.listeners = linked(d.listeners);
      return change;
    }
    case 'link':
      return map === undefined ? { op: 'link', from: d.from, to: d.to } : { op: 'link', from: d.from, to: d.to, map };
    case 'unlink':
      return { op: 'unlink', from: d.from, to: d.to };
    case 'relink':
      return map === undefined ? { op: 'relink', node: d.node, from: d.from, to: d.to } : { op: 'relink', node: d.node, from: d.from, to: d.to, map };
    case 'retry':
      return { op: 'retry', node: d.node };
    case 'skip':
      return d.result === '' ? { op: 'skip', node: d.node } : { op: 'skip', node: d.node, result: JSON.parse(d.result) as unknown };
    case 'replace':
      return { op: 'replace', node: d.node, with: { task: d.task } };
    case 'remove':
      return { op: 'remove', node: d.node };
    case 'cancel':
      return { op: 'cancel' };
    case 'stop':
      return { op: 'stop' };
  }
}

/** Which fields an operation asks for. */
export const FIELDS: Record<Op, Array<keyof Draft>> = {
  add: ['task', 'id', 'sources', 'listeners', 'map'],
  link: ['from', 'to', 'map'],
  unlink: ['from', 'to'],
  relink: ['node', 'from', 'to', 'map'],
  retry: ['node'],
  skip: ['node', 'result'],
  replace: ['node', 'task'],
  remove: ['node'],
  cancel: [],
  stop: [],
};

