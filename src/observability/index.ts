/**
 * `taskwire/metrics`: Prometheus metrics, the metrics server and the CLI's pino
 * logger (kept out of the main entry so embedded users load neither).
 *
 * @packageDocumentation
 */
export { TaskwireMetrics } from './metrics.js';
export { serveMetrics, type MetricsServer } from './metrics-server.js';
export { createLogger, REDACTED_PATHS, type CreateLoggerOptions } from './pino-logger.js';
