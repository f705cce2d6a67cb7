/**
 * Serves Prometheus metrics over HTTP (`GET /metrics`), without authentication:
 * it listens on the loopback interface unless told otherwise.
 *
 * @packageDocumentation
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError } from '../errors.js';

/** The interface the metrics server listens on by default: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** A running metrics server. */
export interface MetricsServer {
  /** The port it listens on. */
  port: number;
  /** The address it listens on. */
  host: string;
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Serves `registry` on `host:port` (port 0 picks a free port). The endpoint has
 * no authentication: expose it beyond loopback (`host: '0.0.0.0'`) only on a
 * network where every host may read the metrics.
 *
 * @throws ConfigError when the port is in use or the host cannot be listened on.
 */
export async function serveMetrics(port: number, registry: Registry, host: string = DEFAULT_METRICS_HOST): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String((error as Error).message)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'is in use' : `cannot be listened on (${error.code ?? error.message})`;
      reject(new ConfigError(`metrics port ${port} on ${host} ${reason}: choose another with --metrics-port (or TASKWIRE_METRICS_PORT)`));
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    host: address.address,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
