/**
 * The metrics endpoint (issue 10, point 5): loopback by default, a host to
 * choose another, a port in use is an error with a code (not a crash), and the
 * worker and coordinator check their options before connecting: a bad option
 * or a taken port exits non-zero having consumed nothing.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { serveMetrics } from '../../src/observability/metrics-server.js';
import { taskwire } from '../cli/helpers.js';

/** A broker nobody listens on: a command that got as far as connecting would say so. */
const NO_BROKER = 'amqp://guest:guest@127.0.0.1:1';

describe('serveMetrics', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('listens on 127.0.0.1 by default', async () => {
    const server = await serveMetrics(0, new Registry());
    closers.push(server.close);
    expect(server.host).toBe('127.0.0.1');
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.status).toBe(200);
  });

  it('rejects with TW_CONFIG when the port is taken, instead of crashing', async () => {
    const taken = await serveMetrics(0, new Registry());
    closers.push(taken.close);
    await expect(serveMetrics(taken.port, new Registry())).rejects.toMatchObject({ code: 'TW_CONFIG', message: expect.stringMatching(/in use/) });
  });
});

describe('worker and coordinator options', () => {
  let blocker: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (blocker === undefined ? resolve(undefined) : blocker.close(resolve)));
    blocker = undefined;
  });

  const worker = (args: string[]) => taskwire(['worker', '--tasks', 'examples/seed.ts', '--broker', NO_BROKER, ...args]);

  it.each([
    [['--metrics-port', 'abc'], /--metrics-port expected an integer from 0 to 65535, got "abc"/],
    [['--metrics-port', '99999'], /--metrics-port expected an integer from 0 to 65535/],
    [['--concurrency', '0'], /--concurrency expected an integer from 1/],
    [['--shutdown-grace', 'soon'], /--shutdown-grace expected an integer/],
    [['--metrics-port', '0', '--metrics-host', 'not a host!'], /--metrics-host/],
  ])('worker %j fails before connecting, exit 2', async (args, message) => {
    const result = await worker(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('TW_CONFIG');
    expect(result.stderr).not.toMatch(/RabbitMQ|"msg":"ready"/);
  });

  it('coordinator --metrics-port abc fails before connecting, exit 2', async () => {
    const result = await taskwire(['coordinator', '--broker', NO_BROKER, '--metrics-port', 'abc']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--metrics-port expected an integer/);
    expect(result.stderr).not.toMatch(/RabbitMQ/);
  });

  it('a taken metrics port fails fast, before connecting', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const result = await worker(['--metrics-port', String(port)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`metrics port ${port} on 127\\.0\\.0\\.1 is in use`));
    expect(result.stderr).not.toMatch(/RabbitMQ|"msg":"ready"/);
  });
});
