/**
 * Inspection: what each waiting node is still waiting for, and why a run stalls.
 *
 * @packageDocumentation
 */
import type { LinkDefinition } from '../model/definition.js';
import { findCycle } from '../model/graph.js';
import { missingInputs } from './inputs.js';
import { hasNotified, type RunState } from './state.js';

/** What a waiting node waits for. */
export interface WaitingInfo {
  /** Sources that have not notified yet. */
  sources: string[];
  /** Required inputs that have no value yet. */
  inputs: string[];
}

/** A run's graph and what blocks it. */
export interface RunInspection {
  /** Graph version. */
  graphVersion: number;
  /** Every link, by listener. */
  links: LinkDefinition[];
  /** What each waiting node waits for, by node id. */
  waiting: Record<string, WaitingInfo>;
  /** When waiting nodes form a cycle: its path (first node repeated at the end). */
  cycle: string[] | undefined;
}

/** Inspects a run: its links, its waiting nodes, and a cycle among them if there is one. */
export function inspectRun(run: RunState): RunInspection {
  const links: LinkDefinition[] = [];
  const waiting: Record<string, WaitingInfo> = {};
  const successors = new Map<string, string[]>();
  for (const node of run.nodes.values()) {
    links.push(...node.sources);
    if (node.status !== 'waiting') continue;
    const sources = node.sources.filter((l) => {
      const source = run.nodes.get(l.from);
      return source === undefined || !hasNotified(source);
    });
    waiting[node.def.id] = { sources: sources.map((l) => l.from), inputs: missingInputs(run, node) };
    for (const link of sources) {
      if (run.nodes.get(link.from)?.status !== 'waiting') continue;
      const list = successors.get(link.from);
      if (list === undefined) successors.set(link.from, [node.def.id]);
      else list.push(node.def.id);
    }
  }
  const cycle = findCycle(Object.keys(waiting), (id) => successors.get(id) ?? []);
  return { graphVersion: run.graphVersion, links, waiting, cycle };
}
