/**
 * A dashboard on a real HTTP port (0) over an embedded client, for the API tests,
 * and a fetch that sends a token.
 *
 * @packageDocumentation
 */
import { connect } from '../../src/runtime/connect.js';
import type { Client } from '../../src/client/client.js';
import type { AnyTask } from '../../src/model/task.js';
import { openStore } from '../../src/runtime/open-store.js';
import type { Store } from '../../src/store/port.js';
import { packageAssets } from '../../src/dashboard/server/assets.js';
import { AmqpQueues } from '../../src/dashboard/server/queues.js';
import { startDashboard, type DashboardServer } from '../../src/dashboard/server/server.js';
import { TokenTable } from '../../src/dashboard/server/tokens.js';

/** The operator token of the test dashboards. */
export const OPERATOR = 'operator-token-0123456789';
/** The viewer token of the test dashboards. */
export const VIEWER = 'viewer-token-0123456789ab';

/** A test dashboard: its server, client and store, and fetch helpers. */
export interface TestDashboard {
  server: DashboardServer;
  client: Client;
  store: Store;
  /** GET (or any request) with a token (the operator's by default). */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** A JSON POST with the operator token and the server's own Origin. */
  post(path: string, body: unknown, token?: string): Promise<Response>;
  close(): Promise<void>;
}

/** Starts a dashboard over an embedded client (a memory store unless `store` names another) with `tasks`. */
export async function testDashboard(
  options: { tasks?: AnyTask[]; distributed?: { broker: string; store: string; prefix: string; schema: string }; shared?: { store: Store; tailMs: number } } = {},
): Promise<TestDashboard> {
  const remote = options.distributed;
  const store = options.shared?.store ?? (await openStore(remote?.store ?? 'memory', { distributed: remote !== undefined, ...(remote === undefined ? {} : { schema: remote.schema }) }));
  // On a shared store, a pure client, as `taskwire dashboard` beside the process that hosts the runs.
  const pure = options.shared === undefined ? {} : { worker: false, coordinator: false, resume: false };
  const client = await connect({ store, tasks: options.tasks ?? [], ...pure, ...(remote === undefined ? {} : { broker: remote.broker, prefix: remote.prefix, worker: true, coordinator: true }) });
  const queues = remote === undefined ? undefined : new AmqpQueues(remote.broker, { prefix: remote.prefix, shards: store.shards });
  const server = await startDashboard({
    client,
    store,
    port: 0,
    transport: remote === undefined ? 'inprocess' : 'amqp',
    ...(queues === undefined ? {} : { queues }),
    ...(options.shared === undefined ? {} : { tailMs: options.shared.tailMs }),
    secrets: remote === undefined ? [] : [remote.store, remote.broker],
    tokens: new TokenTable([
      { token: OPERATOR, name: 'alice', role: 'operator' },
      { token: VIEWER, name: 'bob', role: 'viewer' },
    ]),
    assets: packageAssets({ dir: '/nonexistent' }),
  });
  const call = (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
    const { token, headers, ...rest } = init;
    const all = new Headers(headers);
    if (token !== null) all.set('authorization', `Bearer ${token ?? OPERATOR}`);
    return fetch(`${server.url}${path}`, { ...rest, headers: all });
  };
  return {
    server,
    client,
    store,
    call,
    post: (path, body, token) =>
      call(path, { method: 'POST', body: JSON.stringify(body), token: token ?? OPERATOR, headers: { 'content-type': 'application/json', origin: server.url } }),
    close: async () => {
      await server.close();
      await queues?.close();
      await client.close();
    },
  };
}

/** A response's JSON body, typed as the test expects it. */
export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** The `error.code` of an error answer. */
export async function errorCode(response: Response): Promise<string> {
  return (await json<{ error: { code: string } }>(response)).error.code;
}

/** An event stream being read: the text so far, and `close()` to stop reading. */
export interface StreamReading {
  /** Everything read so far. */
  text(): string;
  /** Cancels the stream and waits for the reading to end. */
  close(): Promise<void>;
}

/** Reads a response body (an event stream) as it arrives. */
export function readStream(response: Response): StreamReading {
  const reader = response.body!.getReader();
  let text = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  return {
    text: () => text,
    close: async () => {
      await reader.cancel();
      await reading;
    },
  };
}
