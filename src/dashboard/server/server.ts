/**
 * Serving the dashboard: the application on a host and port, with a close that
 * ends open streams.
 *
 * @packageDocumentation
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { dashboardApp, type DashboardDeps } from './app.js';

/** A running dashboard server. */
export interface DashboardServer {
  /** Its base URL (`http://host:port`). */
  readonly url: string;
  /** The port it listens on (the one chosen when asked for 0). */
  readonly port: number;
  /** Stops listening and closes open connections (streams included). Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startDashboard}. */
export interface DashboardServerOptions extends DashboardDeps {
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port; 0 picks a free one.
   * @default 7777
   */
  port?: number;
}

/** Starts serving the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const app = dashboardApp(options);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 7777 }, () => resolve(started));
    started.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      })),
  };
}
