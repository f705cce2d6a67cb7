/**
 * `taskwire worker`: a worker process (and, unless `--no-coordinator`, a
 * coordinator). SIGTERM or SIGINT drains: stop taking work, let running tasks
 * finish within the grace time, hand back the rest, exit. A second signal exits
 * at once (unacknowledged dispatches go back to the broker).
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { connect } from '../../runtime/connect.js';
import { createLogger } from '../../observability/pino-logger.js';
import { loadTasks } from '../load-flow.js';
import { announceOption, conditionsOf, conditionsOption, retentionOf, retentionOption, brokerOption, logFormatOption, collect, connectionOptions, metricsAddress, metricsOptions, parseInteger, prefixOption, schemaOption, storeOption, type ConnectionFlags, type MetricsFlags } from '../options.js';
import { collectDefaultMetrics } from 'prom-client';
import { serveMetrics } from '../../observability/metrics-server.js';
import { TaskwireMetrics } from '../../observability/metrics.js';
import type { AnnounceMode } from '../../transport/amqp/announce.js';
import type { LogFormat } from '../../observability/pino-logger.js';

interface WorkerFlags extends ConnectionFlags, MetricsFlags {
  tasks: string;
  conditions?: string;
  queue?: string[];
  concurrency: string;
  coordinator: boolean;
  shutdownGrace: string;
  leaseAfter: string;
  announce: AnnounceMode;
  logFormat: LogFormat;
  retention?: number;
}

/** Registers the `worker` command. */
export function workerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('execute tasks taken from RabbitMQ (and coordinate runs); SIGTERM drains')
    .addOption(new Option('--tasks <module>', 'module exporting the tasks this worker executes').env('TASKWIRE_TASKS').makeOptionMandatory())
    .addOption(conditionsOption())
    .option('-q, --queue <name>', 'work queue to take (repeatable; default: the queues of the tasks)', collect)
    .addOption(new Option('-c, --concurrency <n>', 'tasks executed at once per queue (= AMQP prefetch)').env('TASKWIRE_CONCURRENCY').default('16'))
    .option('--no-coordinator', 'do not take signals (run coordinators separately)')
    .addOption(new Option('--shutdown-grace <ms>', 'time running tasks get to finish on SIGTERM').env('TASKWIRE_SHUTDOWN_GRACE_MS').default('10000'))
    .addOption(new Option('--lease-after <ms>', 'acknowledge executions running longer early and hold a lease (< the broker consumer timeout)').env('TASKWIRE_LEASE_AFTER_MS').default('1200000'))
    .addOption(announceOption())
    .addOption(retentionOption())
    .addOption(logFormatOption())
    .addOption(storeOption())
    .addOption(brokerOption().makeOptionMandatory())
    .addOption(prefixOption())
    .addOption(schemaOption());
  for (const option of metricsOptions()) command.addOption(option);
  command.action(async (flags: WorkerFlags) => {
    // Every option is checked, and the metrics port taken, before connecting: a bad one consumes nothing.
    const concurrency = parseInteger(flags.concurrency, '--concurrency', 1, 65_535);
    const shutdownGraceTimeMs = parseInteger(flags.shutdownGrace, '--shutdown-grace', 0);
    const leaseAfterMs = parseInteger(flags.leaseAfter, '--lease-after', 1);
    const address = metricsAddress(flags);
    const logger = createLogger({ base: { role: 'worker' }, format: flags.logFormat });
    const tasks = await loadTasks(flags.tasks);
    const conditions = flags.coordinator ? await conditionsOf(flags) : [];
    const recorder = new TaskwireMetrics();
    collectDefaultMetrics({ register: recorder.registry });
    const metrics = address === undefined ? undefined : await serveMetrics(address.port, recorder.registry, address.host);
    const client = await connect({
      ...connectionOptions(flags),
      tasks,
      conditions,
      worker: true,
      coordinator: flags.coordinator,
      concurrency,
      shutdownGraceTimeMs,
      leaseAfterMs,
      ...retentionOf(flags),
      announce: flags.announce,
      logger,
      metrics: recorder,
      ...(flags.queue === undefined ? {} : { queues: flags.queue }),
    }).catch(async (error: unknown) => {
      await metrics?.close();
      throw error;
    });
    const stopped = untilSignal(logger, async () => {
      await client.close();
      await metrics?.close();
    });
    logger.info({ tasks: tasks.map((t) => t.name), coordinator: flags.coordinator, announce: flags.announce, metricsPort: metrics?.port, metricsHost: metrics?.host }, 'ready');
    await stopped;
  });
}

/**
 * Waits for SIGTERM/SIGINT, then runs `shutdown`; a second signal exits at once.
 * The handlers are in place when it returns: call it before saying "ready", or a
 * supervisor's SIGTERM right after would kill the process instead of draining it.
 */
export function untilSignal(logger: { info(f: object, m: string): void; warn(f: object, m: string): void }, shutdown: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'draining');
      shutdown().then(
        () => {
          logger.info({}, 'stopped');
          resolve();
        },
        (error: unknown) => {
          logger.warn({ error: (error as Error).message }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
