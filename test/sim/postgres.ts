/**
 * The PostgreSQL of a simulated seed (`--store postgres`): the real
 * `PostgresStore` on the local server, in a schema of the seed's own
 * (`sim_<pid>_<seed>`, dropped at the end), with a pool per simulated process
 * (as each `taskwire worker` process has its own), so that a crash ends that
 * process's sessions (and the coordinator lock with them) and a lost lock's
 * connection is seen to come back to its pool, or not.
 *
 * Every connection is a {@link SimClient}: its connects, queries and ends are
 * counted in flight in {@link RealIO}, which the scheduler awaits before the
 * next callback (see real-io.ts). A client can be silenced (a half-open
 * connection: its requests vanish, nothing arrives from the server), and the
 * server session of the lock's holder can be ended (`pg_terminate_backend`).
 */
import pg from 'pg';
import type { Clock } from '../../src/coordinator/clock.js';
import { StoreError } from '../../src/errors.js';
import { migrate } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { PG_URL } from '../support/services.js';
import { RealIO } from './real-io.js';
import type { SimProcess } from './scheduler.js';

/**
 * Connections of each process's pool: one for its store calls (they run one
 * at a time) and one for the coordinator lock. A lost lock that keeps its
 * connection leaves the next call without one (the pool ran dry).
 */
const POOL_SIZE = 2;
/** The lock checks of every simulated process (`lockCheckIntervalMs`, `lockCheckTimeoutMs`), in simulated ms. */
export const LOCK_CHECK = { intervalMs: 1000, timeoutMs: 2000 } as const;

/** A pooled connection whose I/O the scheduler waits for (see the module doc). */
interface SimClient extends pg.Client {
  /** Half-open: requests are swallowed, and nothing from the server is heard. */
  silenced: boolean;
  /** Resolves once the socket is closed. */
  readonly closed: Promise<void>;
  /** Set once the socket is closed (its server process id may then be another session's). */
  readonly ended: boolean;
  /** The server session's process id. */
  readonly processID: number | undefined;
}

/** A process's pool and what the checks read of it. */
interface ProcessPool {
  process: SimProcess;
  pool: pg.Pool;
  clients: Set<SimClient>;
  /** Connections asked for while every connection was checked out. */
  dry: number;
}

/** The database of one seed. */
export class SimDatabase {
  private readonly pools = new Map<SimProcess, ProcessPool>();

  private constructor(
    readonly io: RealIO,
    readonly schema: string,
    private readonly admin: pg.Client,
    /** A store on a pool of the simulator's own, to read the world (not a simulated process's). */
    readonly observer: PostgresStore,
    private readonly observerPool: pg.Pool,
    /** The schema's number of shards. */
    private readonly shards: number,
  ) {}

  /** Creates and migrates the seed's schema with `shards` shards (dropping a leftover of an earlier run first). */
  static async open(seed: number, shards: number): Promise<SimDatabase> {
    const io = new RealIO();
    const schema = `sim_${process.pid}_${seed}`;
    const admin = new pg.Client({ connectionString: PG_URL, options: '-c synchronous_commit=off' });
    admin.on('error', () => undefined); // a dropped admin connection fails its next query instead of the process
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const observerPool = simPool(io, new Set(), 1);
    await migrate(observerPool, schema, { shards });
    return new SimDatabase(io, schema, admin, new PostgresStore(observerPool, schema, false, undefined, shards), observerPool, shards);
  }

  /** A process's store: the real adapter on a pool of the process's own, its lock checks on the process's clock. */
  store(process: SimProcess, clock: Clock): PostgresStore {
    const clients = new Set<SimClient>();
    const entry: ProcessPool = { process, pool: simPool(this.io, clients, POOL_SIZE), clients, dry: 0 };
    guardDry(entry);
    this.pools.set(process, entry);
    return new PostgresStore(entry.pool, this.schema, false, { ...LOCK_CHECK, clock }, this.shards);
  }

  /** A process died: its sessions end (the server releases its lock); a silenced one waits for the server's keepalive. */
  crashed(process: SimProcess): void {
    const entry = this.pools.get(process);
    if (entry === undefined) return;
    this.pools.delete(process);
    for (const client of entry.clients) if (!client.silenced) void this.io.track(client.end().catch(() => undefined));
  }

  /** The connection holding the lock `name` now, if any (found from the server's lock table, as an operator would). */
  async lockHolder(name: string): Promise<SimClient | undefined> {
    const rows = await this.io.track(
      this.admin.query<{ pid: number }>(
        `SELECT l.pid FROM pg_locks l, (SELECT hashtextextended($1, 0) AS k) h
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)`,
        [`taskwire:${this.schema}:${name}`],
      ),
    );
    const pid = rows.rows[0]?.pid;
    for (const { clients } of this.pools.values()) for (const client of clients) if (pid !== undefined && !client.ended && client.processID === pid) return client;
    return undefined;
  }

  /** Which process a connection belongs to. */
  ownerOf(client: SimClient): SimProcess | undefined {
    for (const { process, clients } of this.pools.values()) if (clients.has(client)) return process;
    return undefined;
  }

  /** Ends a connection's server session (`pg_terminate_backend`, as an admin or a server-side keepalive would); resolves once its socket is closed. */
  async terminate(client: SimClient): Promise<void> {
    if (client.ended) return;
    await this.io.track(this.admin.query('SELECT pg_terminate_backend($1)', [client.processID]));
    await this.io.track(client.closed);
  }

  /** The process whose session holds each lock of `names` now (the server's word), if any. */
  async lockOwners(names: readonly string[]): Promise<Map<string, SimProcess | undefined>> {
    const owners = new Map<string, SimProcess | undefined>();
    for (const name of names) {
      const holder = await this.lockHolder(name);
      owners.set(name, holder === undefined ? undefined : this.ownerOf(holder));
    }
    return owners;
  }

  /**
   * Pool violations: a process whose pool ran dry, or that keeps more
   * connections checked out once the world is quiet than its locks need (one
   * for a process of `holders`, whose session holds locks, none for the others).
   */
  poolViolations(holders: ReadonlySet<SimProcess | undefined>): string[] {
    const violations: string[] = [];
    for (const { process, pool, dry } of this.pools.values()) {
      if (dry > 0) violations.push(`lock connections: ${process.name}'s pool ran dry ${dry} time(s) (${POOL_SIZE} connections checked out: a lost lock kept its connection)`);
      const out = pool.totalCount - pool.idleCount;
      const needed = holders.has(process) ? 1 : 0;
      if (out > needed) violations.push(`lock connections: ${process.name} keeps ${out} connection(s) checked out once quiet, the lock it ${needed === 1 ? 'holds needs 1' : 'does not hold needs none'}: a lost lock kept its connection`);
    }
    return violations;
  }

  /** Ends every connection and drops the schema. */
  async close(): Promise<void> {
    for (const { pool, clients } of this.pools.values()) {
      for (const client of clients) client.silenced = false;
      await pool.end().catch(() => undefined);
      for (const client of clients) await client.end().catch(() => undefined);
    }
    await this.observerPool.end();
    await this.admin.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.admin.end();
  }
}

/** A pool of `max` connections that are {@link SimClient}s, registered in `clients`. */
function simPool(io: RealIO, clients: Set<SimClient>, max: number): pg.Pool {
  class Client extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super(config);
      track(this as unknown as SimClient, io);
      clients.add(this as unknown as SimClient);
    }
  }
  // No idle timeout: the pool changes only when the simulated world acts on it.
  // No WAL flush per commit (the simulated database never crashes): a seed runs several times faster.
  const pool = new pg.Pool({ connectionString: PG_URL, max, idleTimeoutMillis: 0, Client, options: '-c synchronous_commit=off' });
  pool.on('error', () => undefined);
  return pool;
}

/** Makes a client's I/O visible to the scheduler, and lets it be silenced (see {@link SimClient}). */
function track(client: SimClient, io: RealIO): void {
  const closed = new Promise<void>((resolve) =>
    client.connection.once('end', () => {
      Object.assign(client, { ended: true });
      resolve();
    }),
  );
  Object.assign(client, { silenced: false, closed, ended: false });
  type Method = (...args: unknown[]) => unknown;
  const { connect, query, end, emit } = client as unknown as { connect: Method; query: Method; end: Method; emit: Method };
  const self = client as unknown as Record<string, unknown>;
  self['connect'] = (callback?: (error?: Error) => void) => {
    if (callback === undefined) return io.track(connect.call(client) as Promise<void>);
    void io.track(new Promise<void>((resolve) => connect.call(client, (error?: Error) => (resolve(), callback(error)))));
    return undefined;
  };
  // Queries swallowed by the silence: they fail once the client is ended (pg destroys the socket of a client ended with a query hung).
  const swallowed: ((error: Error) => void)[] = [];
  self['query'] = (...args: unknown[]) => {
    if (client.silenced) {
      // Never answered (and not in flight: simulated time goes on).
      const at = args.findIndex((arg) => typeof arg === 'function');
      if (at >= 0) {
        swallowed.push((error) => (args[at] as (error: Error) => void)(error));
        return undefined;
      }
      return new Promise((_, reject) => swallowed.push(reject));
    }
    const at = args.findIndex((arg) => typeof arg === 'function');
    if (at < 0) return io.track(query.apply(client, args) as Promise<unknown>);
    const callback = args[at] as (...results: unknown[]) => void;
    let answered = (): void => undefined;
    void io.track(new Promise<void>((resolve) => (answered = resolve)));
    args[at] = (...results: unknown[]) => {
      answered();
      callback(...results);
    };
    return query.apply(client, args);
  };
  self['end'] = (callback?: () => void) => {
    // A silenced connection's goodbye never reaches the server: its session lives on until the server drops it.
    if (client.silenced) {
      for (const fail of swallowed.splice(0)) fail(new Error('Connection terminated'));
      callback?.();
      return callback === undefined ? Promise.resolve() : undefined;
    }
    const internals = client as unknown as { _ended?: boolean; connection: { _connecting?: boolean } };
    if (internals.connection._connecting === true && internals._ended !== true) void io.track(closed);
    return end.call(client, callback);
  };
  self['emit'] = (event: string, ...args: unknown[]) => (client.silenced && (event === 'error' || event === 'end') ? false : emit.call(client, event, ...args));
}

/**
 * A pool asked for a connection while all are checked out would wait for ever
 * (the simulated world stands still meanwhile): the call fails at once
 * instead, and the pool's entry counts it.
 */
function guardDry(entry: ProcessPool): void {
  const { pool } = entry;
  const connect = pool.connect.bind(pool) as (callback?: (error: Error | undefined, client?: pg.PoolClient, done?: () => void) => void) => unknown;
  (pool as unknown as Record<string, unknown>)['connect'] = (callback?: (error: Error | undefined) => void) => {
    if (pool.totalCount >= POOL_SIZE && pool.idleCount === 0) {
      entry.dry++;
      const error = new StoreError(`simulated: ${entry.process.name}'s pool ran dry`, 'POOL_DRY');
      if (callback === undefined) return Promise.reject(error);
      callback(error);
      return undefined;
    }
    return connect(callback);
  };
}
