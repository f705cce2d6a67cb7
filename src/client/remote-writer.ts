/**
 * A client's events sent to the coordinator of each run's shard, which steps
 * them with its signals and answers (one writer per run: docs/distributed.md).
 * The notifications of one turn of the event loop (W4: 10,000 `notify` calls
 * fired at once) go together: one request per shard, carrying the
 * notifications of the runs of that shard (per 1,000 run notifications or
 * ~256 KiB of payloads), so that the coordinator steps a run's notifications in one step.
 * Errors come back as the classes the coordinator threw (`wire-error.ts`).
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { StepReport } from '../coordinator/options.js';
import type { Change } from '../engine/events.js';
import { ConfigError, TransportError } from '../errors.js';
import { shardOf } from '../model/shard.js';
import type { Notification, RunOutcome, RunRequest, Transport } from '../transport/port.js';
import { errorFromWire } from '../transport/wire-error.js';
import type { RunWriter, StartRequest } from './writer.js';

/** How long a client waits for a coordinator's answer by default, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Most run notifications in one notify request: a shard with more gets
 * several requests, so that a request stays far below `maxMessageBytes`
 * (1,000 ids of up to 255 bytes: ~256 KiB at worst, ~40 KiB for UUIDs).
 */
const MAX_RUNS_PER_REQUEST = 1000;

/** Most bytes of payloads (their JSON) in one notify request; a notification with a larger payload goes alone. */
const MAX_PAYLOAD_BYTES_PER_REQUEST = 256 * 1024;

/** A notify waiting for its turn to be sent, and where its outcomes go. */
interface QueuedNotify {
  notification: Notification;
  /** Its payload's JSON length (the bound of a request). */
  bytes: number;
  /** Outcomes by run id. */
  settled: Map<string, PromiseSettledResult<StepReport>>;
  resolve: (outcomes: PromiseSettledResult<StepReport>[]) => void;
}

/** The runs of one queued notify in one request. */
interface Part {
  queued: QueuedNotify;
  runIds: string[];
}

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
  /** The notifications of this turn, sent at its end. */
  private queued: QueuedNotify[] = [];

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
  notify(runIds: readonly string[], event: string, payload: JsonObject, eventId: string): Promise<PromiseSettledResult<StepReport>[]> {
    if (runIds.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      if (this.queued.length === 0) setImmediate(() => this.flush());
      const notification: Notification = { runIds: [...runIds], event, payload, eventId };
      this.queued.push({ notification, bytes: JSON.stringify(payload).length, settled: new Map(), resolve });
    });
  }

  /** Sends the notifications queued in this turn: per shard, requests of bounded size; each notify resolves once all its runs have an outcome. */
  private flush(): void {
    const queued = this.queued;
    this.queued = [];
    const byShard = new Map<number, Part[]>();
    for (const q of queued) {
      for (const runId of q.notification.runIds) {
        const shard = shardOf(runId, this.shards);
        let parts = byShard.get(shard);
        if (parts === undefined) byShard.set(shard, (parts = []));
        const last = parts.at(-1);
        if (last?.queued === q) last.runIds.push(runId);
        else parts.push({ queued: q, runIds: [runId] });
      }
    }
    const sent = [...byShard].flatMap(([shard, parts]) => requestsOf(parts).map((request) => this.send(shard, request)));
    void Promise.all(sent).then(() => {
      for (const q of queued) q.resolve(q.notification.runIds.map((runId) => q.settled.get(runId) as PromiseSettledResult<StepReport>));
    });
  }

  /** Sends one notify request; records each run's outcome with its notify (never rejects). */
  private async send(shard: number, parts: Part[]): Promise<void> {
    const notifications = parts.map(({ queued: { notification }, runIds }) => ({ ...notification, runIds }));
    try {
      const outcomes = (await this.request(shard, { type: 'notify', notifications }, { timeoutMs: this.timeoutMs })).outcomes;
      let at = 0;
      for (const { queued, runIds } of parts) {
        for (const runId of runIds) {
          try {
            queued.settled.set(runId, { status: 'fulfilled', value: reportOf(outcomes[at++], runId) });
          } catch (reason) {
            queued.settled.set(runId, { status: 'rejected', reason });
          }
        }
      }
    } catch (reason) {
      for (const { queued, runIds } of parts) for (const runId of runIds) queued.settled.set(runId, { status: 'rejected', reason });
    }
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

/** The parts of one shard cut into requests of at most {@link MAX_RUNS_PER_REQUEST} runs and about {@link MAX_PAYLOAD_BYTES_PER_REQUEST} bytes of payloads. */
function requestsOf(parts: readonly Part[]): Part[][] {
  const requests: Part[][] = [];
  let current: Part[] = [];
  let runs = 0;
  let bytes = 0;
  for (const part of parts) {
    for (let from = 0; from < part.runIds.length; ) {
      if (current.length > 0 && (runs >= MAX_RUNS_PER_REQUEST || bytes + part.queued.bytes > MAX_PAYLOAD_BYTES_PER_REQUEST)) {
        requests.push(current);
        [current, runs, bytes] = [[], 0, 0];
      }
      const runIds = part.runIds.slice(from, from + MAX_RUNS_PER_REQUEST - runs);
      current.push({ queued: part.queued, runIds });
      from += runIds.length;
      runs += runIds.length;
      bytes += part.queued.bytes;
    }
  }
  if (current.length > 0) requests.push(current);
  return requests;
}
