/**
 * The dashboard's HTTP application (hono): the API under `/api` behind the
 * access check, the page's static assets everywhere else.
 *
 * @packageDocumentation
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Client } from '../../client/client.js';
import { NotFoundError, TaskwireError } from '../../errors.js';
import { packageVersion } from '../../observability/version.js';
import type { Store } from '../../store/port.js';
import { accessCheck, NotJsonError, type AccessVariables } from './access.js';
import type { AssetSource } from './assets.js';
import type { AmqpQueues } from './queues.js';
import { errorBody, statusOf } from './http-errors.js';
import type { TokenTable } from './tokens.js';
import { fleetRoutes } from './fleet-routes.js';
import { runRoutes } from './run-routes.js';
import { streamRoute } from './stream.js';

/** What the dashboard serves from. */
export interface DashboardDeps {
  /** A client on the store (changes, notifications, announcements). */
  client: Client;
  /** The client's store (listings, history, activations). */
  store: Store;
  /** Who may use it. */
  tokens: TokenTable;
  /** How the client reaches coordinators: in this process, or over RabbitMQ. */
  transport: 'inprocess' | 'amqp';
  /** Connection URLs whose secrets must never be sent (scrubbed from error messages). */
  secrets: readonly string[];
  /** The page's assets. */
  assets: AssetSource;
  /**
   * Read a streamed run's history every this many ms, for the entries other
   * processes write that no announcement brings here (see `stream.ts`); absent: announcements only.
   */
  tailMs?: number;
  /** RabbitMQ's queues (distributed); absent embedded. */
  queues?: AmqpQueues;
}

/** The hono environment of the dashboard's routes. */
export type DashboardEnv = { Variables: AccessVariables };

/** The API's answer to `/api/me`. */
export interface MeView {
  /** The token's name. */
  name: string;
  /** The token's role. */
  role: 'viewer' | 'operator';
  /** The store kind. */
  store: string;
  /** The transport kind. */
  transport: 'inprocess' | 'amqp';
  /** The taskwire version. */
  version: string;
}

/** The largest request body taken (a change list, a notification's payload). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Headers of the page's assets: its own scripts only, requests to its own
 * origin only, never in a frame (no clickjacking of the change buttons).
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Builds the dashboard application. */
export function dashboardApp(deps: DashboardDeps): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.onError((error, c) => {
    const status = error instanceof NotJsonError ? 415 : statusOf(error);
    return c.json(errorBody(error, deps.secrets), status);
  });
  app.use('/api/*', accessCheck(deps.tokens));
  // The rest of a refused body is not read: the connection is closed after the answer, never reused.
  const tooLarge = new TaskwireError('TW_TOO_LARGE', `a request body is at most ${MAX_BODY_BYTES} bytes`);
  app.use('/api/*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json(errorBody(tooLarge, []), 413, { connection: 'close' }) }));
  app.get('/api/me', (c) => {
    const user = c.get('user');
    const me: MeView = { name: user.name, role: user.role, store: deps.store.kind, transport: deps.transport, version: packageVersion() };
    return c.json(me);
  });
  runRoutes(app, deps);
  fleetRoutes(app, deps);
  streamRoute(app, deps);
  app.all('/api/*', (c) => {
    throw new NotFoundError(`no API route ${c.req.method} ${c.req.path}`);
  });
  app.get('*', async (c) => {
    const assets = await deps.assets();
    const name = c.req.path === '/' ? 'index.html' : c.req.path.replace(/^\/(assets\/)?/, '');
    const asset = assets.get(name);
    if (asset === undefined) throw new NotFoundError(`no asset ${c.req.path}`);
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...PAGE_HEADERS });
  });
  return app;
}
