/**
 * Values too large to travel (defects 16 and 17 of issue 8): runs and
 * notifications beside the ordinary workload whose values exceed the bus's
 * maximum message size ({@link SIM_MAX_MESSAGE_BYTES}), and a raw flow
 * definition with a 300-character queue name. Each fails alone, at its
 * producer, with `TW_TOO_LARGE` (a start or notify refused, or only its node
 * failed), is never retried, and holds back no other run (checked in
 * `size-checks.ts`).
 *
 * | kind | run | what is too large | the outcome checked |
 * | --- | --- | --- | --- |
 * | `oversized-input` | `s-input` | a bound input | its start rejects with `TW_TOO_LARGE` naming the task; no run |
 * | `oversized-result` | `s-result` | a task's result; another's error | `big` failed `TW_TOO_LARGE` at attempt 1 though it may retry; `loud` fails with its error cut short, then succeeds; `ok` succeeds |
 * | `oversized-inputs` | `s-grown` | a node's inputs, grown from its source's result | `sink` failed `TW_TOO_LARGE`, never executed; `src` succeeded |
 * | `oversized-rollback` | `s-undo` | a rollback's dispatch (inputs and result) | the run is `rollback_failed`, `keep`'s rollback failed `TW_TOO_LARGE`, never executed |
 * | `oversized-notify` | `s-roomy`, `s-tight` | a notification's payload, for one run or both | `tight` (a bound input besides the payload) refuses the medium payload, both the large one: `TW_PARTIAL` naming the runs, or `TW_TOO_LARGE`; neither is activated by what it refused |
 * | `long-queue-name` | `s-queue` | a 300-character queue name in a raw definition | its start is refused; no run |
 * | `input-at-limit` | `s-edge` | nothing, or just: a bound input that brings the dispatch within 40 bytes of the limit | its start is refused with `TW_TOO_LARGE`, or the run succeeds; never stranded (the broker refusing what the producer let through) |
 */
import type { Json } from '../../src/codec/json.js';
import { NonRetryableError } from '../../src/errors.js';
import type { FlowDefinition } from '../../src/model/definition.js';
import { flow, type Flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task, type AnyTask } from '../../src/model/task.js';
import { encodedBytes } from '../../src/transport/limits.js';
import type { Kind } from './options.js';
import type { Random } from './random.js';
import type { SimProcess } from './scheduler.js';
import { SIM_MAX_MESSAGE_BYTES } from './transport.js';
import { work, type Execution, type TaskWorld } from './workload.js';

/** The size scenarios (kinds of `options.ts`). */
export const SIZE_KINDS = ['oversized-input', 'oversized-result', 'oversized-inputs', 'oversized-rollback', 'oversized-notify', 'long-queue-name', 'input-at-limit'] as const;

/** One size scenario. */
export type SizeKind = (typeof SIZE_KINDS)[number];

/** The event of the `oversized-notify` runs (the ordinary workload's are `ev-a` and `ev-b`). */
export const SIZE_EVENT = 'ev-s';

/** How large a notification's `data` is: fits every run, only `s-roomy`, or none. */
export type PayloadSize = 'small' | 'medium' | 'large';

/** A planned notification of {@link SIZE_EVENT}. */
export interface SizeNotify {
  /** When (ms after the start of the world). */
  at: number;
  /** Payload value, unique in the seed (from 101: the ordinary workload's are 1..8). */
  v: number;
  /** The size of its `data` field. */
  size: PayloadSize;
}

/** A run of the size scenarios. */
export interface SizeRun {
  /** Run id (`s-...`). */
  id: string;
  /** Its scenario. */
  kind: SizeKind;
  /** When it is started (ms after the start of the world). */
  startAt: number;
  /** `input-at-limit`: the length of its bound input. */
  pad?: number;
}

/** The size scenarios a seed has. */
export interface SizeWorkload {
  runs: SizeRun[];
  notifications: SizeNotify[];
}

/** Room for a message's envelope: a value of this many characters travels, twice that does not. */
export const HALF = Math.floor(SIM_MAX_MESSAGE_BYTES * 0.6);
/** A value that does not travel on its own. */
const OVER = SIM_MAX_MESSAGE_BYTES + 256;
/** The payload's `data`, by size: `medium` fits `s-roomy`'s listener, not `s-tight`'s (which has a bound input of {@link HALF} too). */
const DATA: Record<PayloadSize, number> = { small: 1, medium: HALF, large: OVER };
/** A 300-character queue name (AMQP names hold 255 bytes at most). */
const LONG_QUEUE = 'q'.repeat(300);

/**
 * The bound input of `input-at-limit` that makes its node's dispatch, as the
 * engine commands it, exactly {@link SIM_MAX_MESSAGE_BYTES}: the size of a
 * dispatch of that shape with an empty input, subtracted. (Only the scenario's
 * aim depends on the shape; its check does not.)
 */
const EDGE_PAD =
  SIM_MAX_MESSAGE_BYTES -
  encodedBytes({ type: 'dispatch', node: 'echo', attempt: 1, kind: 'apply', runId: 's-edge', task: 's-edge.echo', inputs: { pad: '' }, timeoutMs: 0, queue: 'default' });

/** Each size scenario is in this share of seeds. */
const SHARE = 0.12;

/** Draws a seed's size scenarios (none for skipped kinds). */
export function generateSizes(random: Random, skip: ReadonlySet<Kind>, faultWindowMs: number): SizeWorkload {
  const runs: SizeRun[] = [];
  const notifications: SizeNotify[] = [];
  for (const kind of SIZE_KINDS) {
    if (skip.has(kind) || !random.chance(SHARE)) continue;
    const startAt = random.int(0, Math.floor(faultWindowMs / 3));
    const ids = { 'oversized-input': ['s-input'], 'oversized-result': ['s-result'], 'oversized-inputs': ['s-grown'], 'oversized-rollback': ['s-undo'], 'oversized-notify': ['s-roomy', 's-tight'], 'long-queue-name': ['s-queue'], 'input-at-limit': ['s-edge'] }[kind];
    for (const id of ids) runs.push({ id, kind, startAt, ...(kind === 'input-at-limit' ? { pad: EDGE_PAD - random.int(0, 40) } : {}) });
    if (kind !== 'oversized-notify') continue;
    // A medium one (the partial notification) always; small and large ones besides.
    const sizes: PayloadSize[] = ['medium', ...Array.from({ length: random.int(1, 3) }, () => random.pick<PayloadSize>(['small', 'medium', 'large']))];
    sizes.forEach((size, i) => notifications.push({ at: random.int(startAt + 200, faultWindowMs), v: 101 + i, size }));
  }
  return { runs, notifications };
}

/** The payload of a size notification. */
export function sizePayload(n: SizeNotify): { v: number; data: string } {
  return { v: n.v, data: 'd'.repeat(DATA[n.size]) };
}

/** The result of a listener for `v`. */
const listened = (v: number): number => 3 * v;

/** The tasks of the size scenarios, with bodies bound to one process (ledger entries, crashes). */
export function buildSizeTasks(sizes: SizeWorkload, world: TaskWorld, process: SimProcess): Map<string, AnyTask> {
  const record = (ctx: { runId: string; nodeId: string; attempt: number; activation?: number }, kind: Execution['kind']): Execution => {
    const entry: Execution = { runId: ctx.runId, node: ctx.nodeId, attempt: ctx.attempt, kind, process: process.name, at: world.scheduler.now };
    if (ctx.activation !== undefined) entry.activation = ctx.activation;
    world.ledger.push(entry);
    return entry;
  };
  const body =
    <I>(compute: (inputs: I, attempt: number) => Json) =>
    async (inputs: I, ctx: { runId: string; nodeId: string; attempt: number; activation?: number }): Promise<Json> => {
      const entry = record(ctx, 'apply');
      await work(world, process, entry);
      return compute(inputs, ctx.attempt);
    };
  const retry = { limit: 2, initialDelayMs: 20, factor: 2, maxDelayMs: 100, jitter: 0 };
  const all: AnyTask[] = [];
  for (const kind of new Set(sizes.runs.map((r) => r.kind))) {
    switch (kind) {
      case 'oversized-input':
        all.push(task('s-input.echo', { requires: ['pad'], apply: body(({ pad }: { pad: string }) => pad.length) }));
        break;
      case 'oversized-result':
        all.push(
          task('s-result.big', { retry, apply: body(() => 'x'.repeat(OVER)) }),
          task('s-result.loud', {
            retry,
            apply: body((_inputs: object, attempt) => {
              if (attempt === 1) throw new Error(`loud failure ${'e'.repeat(OVER)}`);
              return 1;
            }),
          }),
          task('s-result.ok', { apply: body(() => 2) }),
        );
        break;
      case 'oversized-inputs':
        all.push(
          task('s-grown.src', { provides: 'src', apply: body(() => 'y'.repeat(HALF)) }),
          task('s-grown.sink', { requires: ['src', 'pad'], retry, apply: body(({ src, pad }: { src: string; pad: string }) => src.length + pad.length) }),
        );
        break;
      case 'oversized-rollback':
        all.push(
          task('s-undo.keep', {
            requires: ['pad'],
            apply: body(() => 'w'.repeat(HALF)),
            rollback: async (_inputs: object, ctx: { runId: string; nodeId: string; attempt: number }) => {
              const entry = record(ctx, 'rollback');
              await work(world, process, entry);
            },
          }),
          task('s-undo.boom', {
            apply: body(() => {
              throw new NonRetryableError('planned failure of boom');
            }),
          }),
        );
        break;
      case 'oversized-notify':
        all.push(
          task('s-roomy.p', { requires: ['v'], optional: ['data'], apply: body(({ v }: { v: number; data?: string }) => listened(v)) }),
          task('s-tight.p', { requires: ['v'], optional: ['data', 'pad'], apply: body(({ v }: { v: number; data?: string; pad?: string }) => listened(v)) }),
        );
        break;
      case 'long-queue-name':
        all.push(task('s-queue.n', { apply: body(() => 3) }));
        break;
      case 'input-at-limit':
        all.push(task('s-edge.echo', { requires: ['pad'], apply: body(({ pad }: { pad: string }) => pad.length) }));
        break;
    }
  }
  return new Map(all.map((t) => [t.name, t]));
}

/**
 * The flows of the size runs, built from the client's tasks: a `Flow`, or for
 * `long-queue-name` a raw definition (as a user's JSON file), whose queue name
 * the model API would refuse.
 */
export function buildSizeFlows(sizes: SizeWorkload, tasks: ReadonlyMap<string, AnyTask>): Map<string, Flow | FlowDefinition> {
  const t = (name: string): AnyTask => tasks.get(name) as AnyTask;
  const flows = new Map<string, Flow | FlowDefinition>();
  for (const { id, pad } of sizes.runs) {
    switch (id) {
      case 's-edge':
        flows.set(id, flow(id).add(t('s-edge.echo').s({ pad: 'e'.repeat(pad ?? 0) }, { id: 'echo' })));
        break;
      case 's-input':
        flows.set(id, flow(id).add(t('s-input.echo').s({ pad: 'i'.repeat(OVER) }, { id: 'echo' })));
        break;
      case 's-result':
        flows.set(id, flow(id).add(t('s-result.big').s({}, { id: 'big' }), t('s-result.loud').s({}, { id: 'loud' }), t('s-result.ok').s({}, { id: 'ok' })));
        break;
      case 's-grown': {
        const src = t('s-grown.src').s({}, { id: 'src' });
        flows.set(id, flow(id).link(src, t('s-grown.sink').s({ pad: 'z'.repeat(HALF) }, { id: 'sink' })));
        break;
      }
      case 's-undo': {
        const keep = t('s-undo.keep').s({ pad: 'k'.repeat(HALF) }, { id: 'keep' });
        flows.set(id, flow(id, { onFailure: 'rollback' }).link(keep, t('s-undo.boom').s({}, { id: 'boom' })));
        break;
      }
      case 's-roomy':
      case 's-tight': {
        const bound = id === 's-tight' ? { pad: 't'.repeat(HALF) } : {};
        flows.set(id, flow(id).link(event(SIZE_EVENT, { id: 'ev' }), t(`${id}.p`).s(bound, { id: 'p', persistent: true })));
        break;
      }
      case 's-queue': {
        const definition = JSON.parse(JSON.stringify(flow(id).add(t('s-queue.n').s({}, { id: 'n' })))) as FlowDefinition;
        flows.set(id, { ...definition, nodes: definition.nodes.map((node) => ({ ...node, queue: LONG_QUEUE })) });
        break;
      }
    }
  }
  return flows;
}

