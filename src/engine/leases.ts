/**
 * Leases of long executions. A worker acknowledges an execution that runs past
 * its `leaseAfterMs` early (so that the broker's consumer timeout cannot
 * redeliver it while it runs) and holds it by heartbeats; the engine records the
 * lease, and dispatches the node again if the lease ends without an outcome.
 *
 * @packageDocumentation
 */
import { executionRef, type ExecutionRef } from './events.js';
import { activationKey, type ActivationState } from './state.js';
import { written, type StepContext } from './step-context.js';

/**
 * A worker acknowledged a long execution early (so that the broker's consumer
 * timeout cannot redeliver it while it runs) and holds it by heartbeats: the
 * node is dispatched again if no heartbeat or outcome comes before the lease ends.
 */
export function heartbeat(s: StepContext, event: ExecutionRef, leaseMs: number): void {
  const ref = executionRef(event);
  const leaseUntil = s.now + leaseMs;
  if (ref.activation !== undefined) {
    const activation = s.liveActivation(ref);
    if (activation === undefined) return;
    activation.leaseUntil = leaseUntil;
    written(s.out, 'activations').set(activationKey(ref.node, ref.activation), activation);
  } else {
    const node = s.runningNode(ref);
    if (node === undefined) return;
    node.leaseUntil = leaseUntil;
    s.touch(node);
  }
  s.out.commands.push({ type: 'schedule', runId: s.run.id, dueAt: leaseUntil, lease: true, ...ref });
}

/**
 * A lease's end is due: dispatches the execution again if no heartbeat or
 * outcome came meanwhile. Whether one came is told by the lease's end, not by
 * the step's clock: a heartbeat since moved it past the end this schedule was
 * for (and scheduled its own). The schedule was found due by another clock
 * (the store's, or a timer's), maybe a little ahead of the stepping
 * coordinator's: judged by `s.now`, such an end looked early and was dropped,
 * and nothing ever ended that lease (simulation seed 116).
 */
export function leaseDue(s: StepContext, event: ExecutionRef & { leaseUntil: number }): void {
  const ref = executionRef(event);
  const holder = ref.activation === undefined ? s.runningNode(ref) : s.liveActivation(ref);
  const node = s.run.nodes.get(ref.node);
  if (holder === undefined || node === undefined || holder.leaseUntil === undefined || holder.leaseUntil > event.leaseUntil) return;
  delete holder.leaseUntil;
  if (ref.activation === undefined) s.touch(node);
  else written(s.out, 'activations').set(activationKey(ref.node, ref.activation), holder as ActivationState);
  const inputs = ref.activation === undefined ? (node.inputs ?? {}) : (holder as ActivationState).inputs;
  s.enqueue(node, holder, ref, inputs, { reason: 'lease expired' });
}
