/**
 * `taskwire coordinator`: a coordinator process without a worker (workers can
 * also coordinate: see `taskwire worker`). SIGTERM stops it cleanly.
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { collectDefaultMetrics } from 'prom-client';
import { connect } from '../../runtime/connect.js';
import { serveMetrics } from '../../observability/metrics-server.js';
import { TaskwireMetrics } from '../../observability/metrics.js';
import { createLogger } from '../../observability/pino-logger.js';
import { brokerOption, connectionOptions, prefixOption, schemaOption, storeOption, type ConnectionFlags } from '../options.js';
import { untilSignal } from './worker.js';

/** Registers the `coordinator` command. */
export function coordinatorCommand(program: Command): void {
  program
    .command('coordinator')
    .description('take task signals from RabbitMQ and step runs (several may run at once)')
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on this port').env('TASKWIRE_METRICS_PORT'))
    .addOption(storeOption())
    .addOption(brokerOption().makeOptionMandatory())
    .addOption(prefixOption())
    .addOption(schemaOption())
    .action(async (flags: ConnectionFlags & { metricsPort?: string }) => {
      const logger = createLogger({ base: { role: 'coordinator' } });
      const recorder = new TaskwireMetrics();
      collectDefaultMetrics({ register: recorder.registry });
      const client = await connect({ ...connectionOptions(flags), worker: false, coordinator: true, logger, metrics: recorder });
      const metrics = flags.metricsPort === undefined ? undefined : await serveMetrics(Number(flags.metricsPort), recorder.registry);
      logger.info({ metricsPort: metrics?.port }, 'ready');
      await untilSignal(logger, async () => {
        await client.close();
        await metrics?.close();
      });
    });
}
