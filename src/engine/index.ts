/**
 * The coordinator's brain: a deterministic state machine over runs.
 *
 * @packageDocumentation
 */
export { createRun, type CreateRunOptions } from './create.js';
export type { Change, Command, DispatchCommand, EngineEvent, ExecutionRef, HistoryEntry, HistoryType, LinkSpec } from './events.js';
export { liveRun, type LiveRun, type RunIndex } from './live.js';
export { step } from './step.js';
export { emptyOutput, type StepOutput } from './step-context.js';
export { inspectRun, type RunInspection, type WaitingInfo } from './inspect.js';
export * from './state.js';
export { NODE_TRANSITIONS, RUN_TRANSITIONS, ACTIVATION_TRANSITIONS, UNDO_TRANSITIONS, IllegalTransitionError } from './transitions.js';
