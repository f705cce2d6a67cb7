/**
 * Flow-control gates (a task's `limit` and `rate`, docs/flow-control.md): a
 * node whose task has one does not start when it could; it stays `waiting`,
 * throttled at its gate (a `node.throttled` entry and a `gate wait` command),
 * until the runtime admits it (`gate.admitted`: it holds a permit) in the
 * gate's order. The permit goes back (`gate release`) when its attempt ends,
 * whatever the end; a throttled node that leaves the line otherwise (cancelled,
 * skipped, removed) gives back its place the same way.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { NodeDefinition } from '../model/definition.js';
import { priorityRank } from '../model/flow-control.js';
import type { ExecutionRef, GateCommand } from './events.js';
import type { NodeState, NodeStatus } from './state.js';
import type { StepContext } from './step-context.js';

/**
 * The gate of a node's execution with `inputs`: the task's name, with the
 * value of its limit's key input if it has one; undefined when the task has
 * neither a limit nor a rate.
 */
export function gateOf(def: NodeDefinition, inputs: JsonObject): string | undefined {
  if (def.limit === undefined && def.rate === undefined) return undefined;
  const key = def.limit?.key;
  return key === undefined ? def.name : `${def.name}:${key}=${JSON.stringify(inputs[key] ?? null)}`;
}

/**
 * Called by `dispatch`: holds the node at its gate unless it was admitted
 * (returns true when held). The inputs are kept for the admission. Holding a
 * node already throttled at the same gate (a resume) only asks again.
 */
export function holdAtGate(s: StepContext, node: NodeState, inputs: JsonObject): boolean {
  if (node.gate !== undefined) return false;
  const gate = gateOf(node.def, inputs);
  if (gate === undefined) return false;
  const attempt = node.attempt + 1;
  if (node.throttled !== gate) {
    if (node.throttled !== undefined) s.out.commands.push(gateCommand(s, node, 'release', node.throttled, attempt));
    node.throttled = gate;
    node.inputs = inputs;
    delete node.retryAt;
    s.touch(node);
    s.record({ type: 'node.throttled', node: node.def.id, attempt, detail: { gate } });
  }
  const wait = gateCommand(s, node, 'wait', gate, attempt);
  if (node.def.limit !== undefined) wait.concurrency = node.def.limit.concurrency;
  if (node.def.rate !== undefined) wait.rate = node.def.rate;
  wait.priority = priorityRank(node.def.priority);
  s.out.commands.push(wait);
  return true;
}

/**
 * A throttled execution was admitted: it starts, holding the gate's permit.
 * An admission that finds no such execution (cancelled, removed) gives the
 * permit back at once; the same admission again changes nothing.
 */
export function admitted(s: StepContext, event: ExecutionRef & { gate: string; admittedAt: number }): void {
  const node = s.run.nodes.get(event.node);
  // The same admission again (a sweep that found the node still waiting while its admission was on the way).
  if (node?.gate === event.gate && node.status === 'running' && node.attempt === event.attempt) return;
  if (node === undefined || node.status !== 'waiting' || node.throttled !== event.gate || node.attempt + 1 !== event.attempt || !s.accepting) {
    const release: GateCommand = { type: 'gate', op: 'release', runId: s.run.id, node: event.node, attempt: event.attempt, gate: event.gate };
    s.out.commands.push(release);
    return;
  }
  node.gate = event.gate;
  delete node.throttled;
  s.record({ type: 'gate.admitted', node: node.def.id, attempt: event.attempt, detail: { gate: event.gate, admittedAt: event.admittedAt } });
  s.dispatch(node, node.inputs ?? {});
}

/**
 * Called by `setStatus` for a node at a gate (throttled, or holding a permit)
 * moving from `from` to `to`: a running attempt that ends gives its permit
 * back; a throttled node that leaves the line (anything but starting) gives
 * its place back.
 */
export function leaveGate(s: StepContext, node: NodeState, from: NodeStatus, to: NodeStatus): void {
  if (from === 'running' && to !== 'running') {
    const release = releasePermit(s.run.id, node);
    if (release !== undefined) s.out.commands.push(release);
  }
  if (node.throttled !== undefined && from === 'waiting' && to !== 'waiting' && to !== 'running') dropFromGate(s, node);
}

/** The release of the permit a running node holds (the node forgets its gate), or undefined when it holds none. */
export function releasePermit(runId: string, node: NodeState): GateCommand | undefined {
  const gate = node.gate;
  if (gate === undefined) return undefined;
  delete node.gate;
  return { type: 'gate', op: 'release', runId, node: node.def.id, attempt: node.attempt, gate };
}

/** A node removed from the run gives back its place in its gate's line, or its permit. */
export function dropFromGate(s: StepContext, node: NodeState): void {
  if (node.throttled !== undefined) {
    s.out.commands.push(gateCommand(s, node, 'release', node.throttled, node.attempt + 1));
    delete node.throttled;
  }
  if (node.gate !== undefined) {
    s.out.commands.push(gateCommand(s, node, 'release', node.gate, node.status === 'running' ? node.attempt : node.attempt + 1));
    delete node.gate;
  }
}

/** Whether some waiting node is throttled at a gate (it will start: the run is not stalled). Not on the hot path: called when nothing runs. */
export function anyThrottled(nodes: Iterable<NodeState>): boolean {
  for (const node of nodes) if (node.throttled !== undefined) return true;
  return false;
}

function gateCommand(s: StepContext, node: NodeState, op: GateCommand['op'], gate: string, attempt: number): GateCommand {
  return { type: 'gate', op, runId: s.run.id, node: node.def.id, attempt, gate };
}
