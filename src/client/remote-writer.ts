/**
 * A client's events sent to the coordinator of each run's shard, which steps
 * them with its signals and answers (one writer per run: docs/distributed.md).
 * A notify costs one request per shard, carrying the run ids of that shard
 * (per 1,000 of them).
 * Errors come back as the classes the coordinator threw (`wire-error.ts`).
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { StepReport } from '../coordinator/options.js';
import type { Change } from '../engine/events.js';
import { ConfigError, TransportError } from '../errors.js';
import { shardOf } from '../model/shard.js';
import type { RunOutcome, RunRequest, Transport } from '../transport/port.js';
import { errorFromWire } from '../transport/wire-error.js';
import type { RunWriter, StartRequest } from './writer.js';

/** How long a client waits for a coordinator's answer by default, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Most run ids in one notify request: a shard with more listening runs gets
 * several requests, so that a request stays far below `maxMessageBytes`
 * (1,000 ids of up to 255 bytes: ~256 KiB at worst, ~40 KiB for UUIDs).
 */
const MAX_RUNS_PER_REQUEST = 1000;

/** The report of a run's outcome, or its error thrown. */
function reportOf(outcome: RunOutcome | undefined, runId: string): StepReport {
  if (outcome?.runId !== runId) throw new TransportError(`the coordinator's reply holds no outcome for run "${runId}"`);
  if ('error' in outcome) throw errorFromWire(outcome.error);
  return { status: outcome.status, graphVersion: outcome.graphVersion };
}

/** The longest timer Node.js keeps (a longer one fires at once). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Steps a client's events on the coordinators that own their runs' shards. */
export class RemoteWriter implements RunWriter {
  /** @throws ConfigError when `timeoutMs` is not a number of ms from 1 to 2147483647. */
  constructor(
    private readonly request: NonNullable<Transport['request']>,
    /** The store's number of shards. */
    private readonly shards: number,
    /** How long to wait for an answer (`connect({ requestTimeoutMs })`). */
    private readonly timeoutMs: number,
  ) {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new ConfigError(`invalid requestTimeoutMs ${String(timeoutMs)}: expected a number of ms from 1 to ${MAX_TIMEOUT_MS}`);
    }
  }

  /** @inheritdoc */
  async start(start: StartRequest): Promise<void> {
    reportOf((await this.ask(start.runId, { type: 'start', ...start }))[0], start.runId);
  }

  /** @inheritdoc */
  async notify(runIds: readonly string[], event: string, payload: JsonObject, eventId: string): Promise<PromiseSettledResult<StepReport>[]> {
    const byShard = new Map<number, string[][]>();
    for (const runId of runIds) {
      const shard = shardOf(runId, this.shards);
      let chunks = byShard.get(shard);
      if (chunks === undefined) byShard.set(shard, (chunks = []));
      const last = chunks.at(-1);
      if (last === undefined || last.length >= MAX_RUNS_PER_REQUEST) chunks.push([runId]);
      else last.push(runId);
    }
    const settled = new Map<string, PromiseSettledResult<StepReport>>();
    await Promise.all(
      [...byShard.values()].flat().map(async (ids) => {
        try {
          const outcomes = await this.ask(ids[0] as string, { type: 'notify', runIds: ids, event, payload, eventId });
          ids.forEach((runId, i) => {
            try {
              settled.set(runId, { status: 'fulfilled', value: reportOf(outcomes[i], runId) });
            } catch (reason) {
              settled.set(runId, { status: 'rejected', reason });
            }
          });
        } catch (reason) {
          for (const runId of ids) settled.set(runId, { status: 'rejected', reason });
        }
      }),
    );
    return runIds.map((runId) => settled.get(runId) as PromiseSettledResult<StepReport>);
  }

  /** @inheritdoc */
  async change(runId: string, changes: Change[], actor: string, eventId: string): Promise<StepReport> {
    return reportOf((await this.ask(runId, { type: 'change', runId, changes, actor, eventId }))[0], runId);
  }

  /** Sends a request to the shard of `runId` (every run of a request is of one shard). */
  private async ask(runId: string, request: RunRequest): Promise<RunOutcome[]> {
    return (await this.request(shardOf(runId, this.shards), request, { timeoutMs: this.timeoutMs })).outcomes;
  }
}
