/**
 * Graph algorithms over node ids. Pure, no I/O.
 *
 * @packageDocumentation
 */
import type { LinkDefinition, NodeDefinition } from './definition.js';

/**
 * Finds one cycle, or undefined. The path starts and ends with the same node
 * (`['a', 'b', 'a']`). Iterative, so deep graphs cannot overflow the stack.
 */
export function findCycle(ids: Iterable<string>, successors: (id: string) => readonly string[]): string[] | undefined {
  const color = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  for (const root of ids) {
    if (color.has(root)) continue;
    const path: string[] = [root];
    const cursors: number[] = [0];
    color.set(root, 1);
    while (path.length > 0) {
      const top = path[path.length - 1] as string;
      const next = successors(top)[cursors[cursors.length - 1] as number];
      if (next === undefined) {
        color.set(top, 2);
        path.pop();
        cursors.pop();
        continue;
      }
      cursors[cursors.length - 1] = (cursors[cursors.length - 1] as number) + 1;
      const seen = color.get(next);
      if (seen === 1) return [...path.slice(path.indexOf(next)), next];
      if (seen === undefined) {
        color.set(next, 1);
        path.push(next);
        cursors.push(0);
      }
    }
  }
  return undefined;
}

/**
 * A shortest path from `from` to `to` following successors (both ends
 * included; `[from]` when they are the same node), or undefined when `to`
 * cannot be reached. A change adding a link `to -> from` closes this path into
 * a cycle, which is how a refused change names the cycle it would make.
 */
export function pathBetween(from: string, to: string, successors: (id: string) => readonly string[]): string[] | undefined {
  const previous = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head] as string;
    if (id === to) {
      const path: string[] = [];
      for (let at: string | undefined = id; at !== undefined; at = previous.get(at)) path.push(at);
      return path.reverse();
    }
    for (const next of successors(id)) {
      if (!previous.has(next)) {
        previous.set(next, id);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** The name under which a link's source must provide the listener's input `input`. */
export function sourceName(link: LinkDefinition, input: string): string {
  return Object.hasOwn(link.map, input) ? (link.map[input] as string) : input;
}

/**
 * The listener inputs a link feeds from its source's declared provides: a
 * provided name feeds the input of that name unless the map renames that input,
 * and each map entry feeds its input. `undefined` for a source with open
 * payloads (an event without declared provides), which may feed any input.
 */
export function linkInputs(source: NodeDefinition, link: LinkDefinition): string[] | undefined {
  const provides = source.provides;
  if (provides === undefined) return undefined;
  const inputs: string[] = [];
  for (const provided of provides) if (!Object.hasOwn(link.map, provided)) inputs.push(provided);
  for (const [input, provided] of Object.entries(link.map)) if (provides.includes(provided)) inputs.push(input);
  return inputs;
}

/** Builds a successor index (`from` → `to` ids) from links. */
export function successorIndex(links: Iterable<LinkDefinition>): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const link of links) {
    const list = index.get(link.from);
    if (list === undefined) index.set(link.from, [link.to]);
    else list.push(link.to);
  }
  return index;
}
