/**
 * `taskwire coordinator`: a coordinator process without a worker (workers can
 * also coordinate: see `taskwire worker`). SIGTERM stops it cleanly.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { collectDefaultMetrics } from 'prom-client';
import { connect } from '../../runtime/connect.js';
import { serveMetrics } from '../../observability/metrics-server.js';
import { TaskwireMetrics } from '../../observability/metrics.js';
import type { AnnounceMode } from '../../transport/amqp/announce.js';
import type { LogFormat } from '../../observability/pino-logger.js';
import { createLogger } from '../../observability/pino-logger.js';
import { announceOption, conditionsOf, conditionsOption, retentionOf, retentionOption, brokerOption, logFormatOption, connectionOptions, metricsAddress, metricsOptions, prefixOption, schemaOption, storeOption, type ConnectionFlags, type MetricsFlags } from '../options.js';
import { untilSignal } from './worker.js';

/** Registers the `coordinator` command. */
export function coordinatorCommand(program: Command): void {
  const command = program
    .command('coordinator')
    .description('take task signals from RabbitMQ and step runs (several may run at once)')
    .addOption(conditionsOption())
    .addOption(announceOption())
    .addOption(retentionOption())
    .addOption(logFormatOption())
    .addOption(storeOption())
    .addOption(brokerOption().makeOptionMandatory())
    .addOption(prefixOption())
    .addOption(schemaOption());
  for (const option of metricsOptions()) command.addOption(option);
  command.action(async (flags: ConnectionFlags & MetricsFlags & { announce: AnnounceMode; logFormat: LogFormat; retention?: number; conditions?: string }) => {
    // The metrics address is checked and taken before connecting (see `taskwire worker`).
    const address = metricsAddress(flags);
    const logger = createLogger({ base: { role: 'coordinator' }, format: flags.logFormat });
    const conditions = await conditionsOf(flags);
    const recorder = new TaskwireMetrics();
    collectDefaultMetrics({ register: recorder.registry });
    const metrics = address === undefined ? undefined : await serveMetrics(address.port, recorder.registry, address.host);
    const client = await connect({ ...connectionOptions(flags), conditions, worker: false, coordinator: true, ...retentionOf(flags), announce: flags.announce, logger, metrics: recorder }).catch(async (error: unknown) => {
      await metrics?.close();
      throw error;
    });
    const stopped = untilSignal(logger, async () => {
      await client.close();
      await metrics?.close();
    });
    logger.info({ announce: flags.announce, metricsPort: metrics?.port, metricsHost: metrics?.host }, 'ready');
    await stopped;
  });
}
