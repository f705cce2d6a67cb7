/**
 * A realistic saga: provision a server, configure it, register its DNS name.
 * The DNS registrar refuses the name (after its retries), so the flow's
 * `rollback` policy undoes the finished steps in reverse order: the server is
 * unconfigured, then destroyed. The run ends `rolled_back` (exit code 1).
 *
 *   ./bin/taskwire.js run examples/provision.ts
 */
import { NonRetryableError, flow, task } from '../src/index.js';

/** Pretend cloud: what exists right now, so the rollbacks can be seen to work. */
export const cloud = { servers: new Set<string>(), configured: new Set<string>(), dns: new Map<string, string>() };

export const provisionServer = task('provisionServer', {
  requires: ['hostname'],
  provides: 'server',
  apply: ({ hostname }: { hostname: string }) => {
    const server = { id: `srv-${hostname}`, ip: '10.0.0.17' };
    cloud.servers.add(server.id);
    return server;
  },
  rollback: (_inputs, { result }) => {
    if (result !== undefined) cloud.servers.delete(result.id);
  },
});

export const configureServer = task('configureServer', {
  requires: ['server'],
  provides: 'configured',
  apply: ({ server }: { server: { id: string; ip: string } }) => {
    cloud.configured.add(server.id);
    return { packages: ['nginx', 'node'] };
  },
  rollback: ({ server }) => {
    cloud.configured.delete(server.id);
  },
});

export const registerDns = task('registerDns', {
  requires: ['server', 'hostname'],
  retry: { limit: 2, initialDelayMs: 50 },
  apply: ({ hostname }: { server: { ip: string }; hostname: string }) => {
    if (hostname.endsWith('.invalid')) throw new NonRetryableError(`the registrar refuses "${hostname}"`, { code: 'DNS_REFUSED' });
    throw new Error('registrar timed out');
  },
});

const provision = flow('provision-server', { onFailure: 'rollback' });
const server = provisionServer.s();
const configure = configureServer.s();
const dns = registerDns.s();
provision.link(server, configure);
provision.link(server, dns);
provision.link(configure, dns);

export const inputs = { hostname: 'web-1.example.invalid' };
export default provision;
