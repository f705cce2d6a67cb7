/**
 * taskwire: an event-driven, distributed task workflow engine. Flows are data:
 * they can be inspected and rewired while they run.
 *
 * @packageDocumentation
 */
export { task, DEFAULT_QUEUE, type Task, type TaskSpec, type TaskContext, type RollbackContext, type TaskInputs, type AnyTask } from './model/task.js';
export { TaskNode, EventNode, event, type NodeOptions, type EventOptions, type AnyNode } from './model/node.js';
export { Flow, flow, type FlowOptions, type LinkOptions, type FlowMember } from './model/flow.js';
export { SubflowNode, type SubflowOptions } from './model/subflow.js';
export { condition, ConditionRegistry, type Condition, type AnyCondition, type ConditionContext, type ConditionDepth, type ConditionLookup } from './model/condition.js';
export type { FlowDefinition, NodeDefinition, LinkDefinition, LinkCondition, RetryPolicy, FailurePolicy, ScopeDefinition } from './model/definition.js';
export { DEFAULT_RETRY, backoffDelayMs, type RetryOption } from './model/retry.js';
export { DEFAULT_PRIORITY, PRIORITIES, type ConcurrencyLimit, type Priority, type RateLimit } from './model/flow-control.js';
export { findProblems, validateFlow, type ValidateOptions } from './model/validate.js';
export { toFailure, type Failure } from './model/failure.js';
export type { Json, JsonObject } from './codec/json.js';
export { encodeValue, decodeValue } from './codec/value.js';
export * from './errors.js';
export type { RunStatus, NodeStatus, UndoStatus, SkipReason, ActivationState, ActivationStatus, WaitingInfo } from './engine/index.js';
export type { Change, HistoryEntry, HistoryType, LinkSpec } from './engine/events.js';
export { Client, type CatalogTask, type NotifyOptions, type StartOptions } from './client/client.js';
export { RunHandle, type AddOptions, type ChangeOptions, type WaitOptions } from './client/run-handle.js';
export type { LinkTarget, NodeRef, Replacement, RunChange } from './client/run-changes.js';
export { RunFailedError } from './client/run-failed.js';
export { ScheduleHandle } from './client/schedule-handle.js';
export type { ScheduleInfo, ScheduleOptions } from './client/schedules.js';
export type { CatchUp, Overlap } from './model/schedule-plan.js';
export type { RunSnapshot, NodeSnapshot, NodeViewStatus, ActivationCounts, ScopeSnapshot } from './client/snapshot.js';
export type { StepReport } from './coordinator/options.js';
export { connect, type ConnectOptions } from './runtime/connect.js';
export type { RetentionOptions } from './coordinator/retention.js';
export { DEFAULT_SQLITE_PATH } from './runtime/open-store.js';
export type { Store, RunSummary, RunFilter, PruneFilter, Page, TaskInfo, WorkerBeat, RunningExecution, WorkerFilter, ScheduleRow } from './store/port.js';
export type { TaskRef } from './client/parts.js';
export { MemoryStore } from './store/memory/index.js';
export type { Transport } from './transport/port.js';
export { TaskRegistry } from './worker/registry.js';
export { Worker, type WorkerOptions } from './worker/worker.js';
export { silentLogger, type Logger, type LogFields } from './observability/logger.js';
export type { Clock } from './coordinator/clock.js';
