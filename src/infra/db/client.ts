// Opens the database: PGlite (embedded, the default) or PostgreSQL through postgres.js when a URL is
// given. Both come out as the same drizzle type plus the few things drizzle does not cover:
// prepared fast-path queries, LISTEN, and a dedicated session for advisory locks.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Db, Executor, TxExecutor } from './executor.ts';

export type { Db, Executor, StepExecutor, TxExecutor } from './executor.ts';

/** A session of its own (not from the pool), for session-level advisory locks. */
export type Session = Executor & {
  release(): Promise<void>;
  /** Resolves when the session's connection is gone (so its advisory locks are gone too). */
  closed: Promise<void>;
};

export type Database = Executor & {
  kind: 'postgres' | 'pglite';
  db: Db;
  transaction<T>(work: (tx: TxExecutor) => Promise<T>): Promise<T>;
  /** Statements that may only read (a write fails with SQLSTATE 25006): for projections' reads. */
  readOnly: Executor;
  /**
   * Statements planned once per connection, the plan then kept (plan_cache_mode = force_generic_plan),
   * on a small pool of their own: for a statement run many times a second whose best plan does not
   * depend on its parameters, which PostgreSQL would otherwise plan again at each execution whenever
   * its generic estimate looks worse than a custom one (the projection runners' batch reads). These
   * sessions avoid sequential and bitmap scans where an index can serve, and array columns come back
   * as text (see openPostgres).
   */
  genericPlans: Executor;
  /** Calls onNotify per notification; onConnect after the listener (re)connects, so a caller can re-read. */
  listen(channel: string, onNotify: (payload: string) => void, onConnect?: () => void): Promise<() => Promise<void>>;
  reserveSession(): Promise<Session>;
  /** Statements and transactions in progress on the pool, and the pool's size (for /metrics). */
  stats(): { inFlight: number; poolMax: number };
  close(): Promise<void>;
};

export type DatabaseOptions =
  | { url: string; poolMax?: number; applicationName?: string }
  | { pgliteDir: string };

const dialect = new PgDialect();

export const toQuery = (query: SQL) => dialect.sqlToQuery(query);

type Run = <T>(text: string, params: readonly unknown[]) => Promise<T[]>;

/** Runs rendered statements on a postgres.js pool, transaction or connection, prepared once per connection. */
const runOn =
  (sql: Pick<postgres.Sql, 'unsafe'>): Run =>
  async <T>(text: string, params: readonly unknown[]) =>
    (await sql.unsafe(text, params as never[], { prepare: true })) as unknown as T[];

/**
 * A client of one connection of its own, never closed for idleness or age: for a lock session or a
 * listener, whose loss must be seen (a pool would hide it behind a new connection).
 */
function dedicatedConnection(url: string, connection: Record<string, string>, role: string, extra: Partial<postgres.Options<{}>>) {
  return postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { ...connection, application_name: `${connection.application_name}:${role}` },
    connect_timeout: 5,
    idle_timeout: 0,
    max_lifetime: null,
    ...extra,
  } as postgres.Options<{}>);
}

/**
 * A pool of two connections beside the main one, for one kind of statement: its sessions named after
 * `role` and set up by `settings`. It reads and writes values exactly as the main pool does (drizzle
 * sets the client's type parsers and serialisers: JSON and time types pass through as text).
 */
function sidePool(
  url: string,
  connection: Record<string, string>,
  role: string,
  settings: Record<string, string | boolean>,
  extra: Partial<postgres.Options<{}>> = {},
) {
  const client = postgres(url, {
    max: 2,
    onnotice: () => {},
    connection: { ...connection, application_name: `${connection.application_name}:${role}`, ...settings },
    connect_timeout: 5,
    ...extra,
  } as postgres.Options<{}>);
  drizzlePostgres({ client });
  return client;
}

/** An executor from a driver's "run this text with these parameters". */
function executorOf(run: Run): Executor {
  return {
    rows<T>(query: SQL) {
      const { sql: text, params } = toQuery(query);
      return run<T>(text, params);
    },
    query: run,
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = 'url' in options ? await openPostgres(options) : await openPglite(options.pgliteDir);
  return counted(database);
}

/** Counts what is in flight on the pool, for the pool-use metrics. */
function counted(database: Omit<Database, 'stats'> & { poolMax: number }): Database {
  let inFlight = 0;
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
    }
  };
  const { poolMax, ...rest } = database;
  return {
    ...rest,
    rows: (query) => track(() => database.rows(query)),
    query: (text, params) => track(() => database.query(text, params)),
    transaction: (work) => track(() => database.transaction(work)),
    stats: () => ({ inFlight, poolMax }),
  };
}

async function openPostgres(options: { url: string; poolMax?: number; applicationName?: string }): Promise<Omit<Database, 'stats'> & { poolMax: number }> {
  const connection = { application_name: options.applicationName ?? 'converge', TimeZone: 'UTC' };
  const client = postgres(options.url, {
    max: options.poolMax ?? 10,
    onnotice: () => {},
    connection,
    // Fail fast instead of queueing forever when the server is away.
    connect_timeout: 5,
  });
  const db = drizzlePostgres({ client }) as unknown as Db;
  const listener = createListener(options.url, connection);
  // A small pool of its own whose sessions refuse writes, for what projections read between steps. Its
  // statements are planned for their own parameters: read models grow from empty (a first catch-up)
  // faster than autovacuum analyses them, and a generic plan cached while one was tiny (a sequential
  // scan) would be kept. Measured: a catch-up of 200,000 events took 31 s instead of 14 s.
  const readOnlyClient = sidePool(options.url, connection, 'read', {
    default_transaction_read_only: true,
    plan_cache_mode: 'force_custom_plan',
  });
  // Two connections: one per built-in projection (more projections share them). A kept plan is made
  // for the tables as they are at the connection's first use (or after an ANALYZE of one of them), and
  // on a new deployment they are empty, where a sequential scan or a bitmap scan and a sort is
  // cheapest; kept while the tables grow, such a plan made a batch read take 12-47 ms instead of
  // under 1 (measured). The statements run here find their rows through indexes at any size, so
  // these sessions rule out sequential and bitmap scans where an index scan can do (a table without
  // a usable index is still scanned); and each connection lives a minute, after which its successor
  // plans again for the tables as they are then. No type lookup when connecting (postgres.js's array
  // types query, which without sequential scans took 160 ms): array columns come back as text.
  const genericPlansClient = sidePool(
    options.url,
    connection,
    'generic',
    { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off', enable_bitmapscan: 'off' },
    { max_lifetime: 60, fetch_types: false },
  );
  // Named prepared statements: parsed once per connection, which matters on the append path.
  const pool = executorOf(runOn(client));
  return {
    kind: 'postgres',
    poolMax: options.poolMax ?? 10,
    db,
    ...pool,
    // postgres.js's own transactions: it sends BEGIN, and COMMIT or ROLLBACK, on one connection of the
    // pool. (Not a reserved connection with BEGIN/COMMIT sent by hand: in postgres.js 3.4.9, releasing a
    // reserved connection that died puts it back among the open ones, with no socket under it.)
    transaction: async (work) =>
      (await client.begin((connection) => work(executorOf(runOn(connection))))) as Awaited<ReturnType<typeof work>>,
    readOnly: executorOf(runOn(readOnlyClient)),
    genericPlans: executorOf(runOn(genericPlansClient)),
    listen: (channel, onNotify, onConnect) => listener.listen(channel, onNotify, onConnect),
    async reserveSession() {
      // A separate single-connection client, so that its death is observable and not hidden by a pool.
      let resolveClosed!: () => void;
      const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
      const session = dedicatedConnection(options.url, connection, 'lock', { onclose: () => resolveClosed() });
      return {
        closed,
        ...executorOf(runOn(session)),
        release: async () => {
          await session.end({ timeout: 5 });
          resolveClosed();
        },
      };
    },
    async close() {
      await listener.close();
      await Promise.all([readOnlyClient.end({ timeout: 5 }), genericPlansClient.end({ timeout: 5 }), client.end({ timeout: 5 })]);
    },
  };
}

type Listener = { onNotify: (payload: string) => void; onConnect?: () => void };

/**
 * LISTEN on a connection of its own that comes back by itself: after the connection is lost it
 * reconnects (with backoff, for as long as it takes), LISTENs again on every channel and calls each
 * onConnect, so that callers re-read what they may have missed. (postgres.js's own listen() gives up
 * when its first reconnect attempt fails, e.g. while the server restarts.)
 */
function createListener(url: string, connection: Record<string, string>) {
  const channels = new Map<string, Set<Listener>>();
  let closed = false;
  let relistening: Promise<void> | undefined;
  // `onnotify` is postgres.js's own (undocumented in its types) hook, the one its listen() uses.
  const sql = dedicatedConnection(url, connection, 'listen', {
    fetch_types: false,
    onnotify: (channel: string, payload: string) => channels.get(channel)?.forEach((l) => l.onNotify(payload)),
    onclose: () => {
      if (!closed) void relisten();
    },
  } as Partial<postgres.Options<{}>>);
  const listenOn = (channel: string) => sql.unsafe(`listen "${channel.replace(/"/g, '""')}"`);

  function relisten(): Promise<void> {
    relistening ??= (async () => {
      for (let delay = 100; !closed; delay = Math.min(delay * 2, 2000)) {
        try {
          for (const channel of channels.keys()) await listenOn(channel);
          for (const set of channels.values()) for (const l of set) l.onConnect?.();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })().finally(() => (relistening = undefined));
    return relistening;
  }

  return {
    async listen(channel: string, onNotify: (payload: string) => void, onConnect?: () => void) {
      const entry: Listener = { onNotify, onConnect };
      let set = channels.get(channel);
      if (!set) {
        set = new Set();
        channels.set(channel, set);
        await listenOn(channel);
      }
      set.add(entry);
      onConnect?.();
      return async () => {
        set.delete(entry);
        if (set.size === 0 && channels.get(channel) === set) {
          channels.delete(channel);
          await sql.unsafe(`unlisten "${channel.replace(/"/g, '""')}"`).catch(() => {});
        }
      };
    },
    async close() {
      closed = true;
      await sql.end({ timeout: 2 });
    },
  };
}

/** Thrown when another live process has the PGlite data directory open. */
export class DataDirectoryInUseError extends Error {}

/**
 * PGlite is one process's database: a second process on the same directory would keep its own copy in
 * memory and overwrite the other's writes. A lock file with our pid keeps it out (a stale one, whose
 * process is gone, is taken over).
 */
function lockDataDirectory(dir: string): () => void {
  const file = join(dir, 'converge.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirectoryInUseError(`PGLITE_DIR ${dir} is in use by process ${pid}; stop it or choose another PGLITE_DIR`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new DataDirectoryInUseError(`PGLITE_DIR ${dir} could not be locked`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function openPglite(dir: string): Promise<Omit<Database, 'stats'> & { poolMax: number }> {
  const inMemory = dir.startsWith('memory://');
  let unlock = () => {};
  if (!inMemory) {
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDirectory(dir);
  }
  let client: PGlite;
  try {
    client = await PGlite.create(dir, { extensions: { pg_trgm } });
  } catch (error) {
    unlock();
    throw error;
  }
  await client.exec(`SET TIME ZONE 'UTC'`);
  const db = drizzlePglite({ client }) as unknown as Db;
  const executor = executorOf(async <T>(text: string, params: readonly unknown[]) => (await client.query<T>(text, params as unknown[])).rows);
  let closed = false;
  return {
    kind: 'pglite',
    poolMax: 1,
    db,
    ...executor,
    transaction: (work) =>
      client.transaction((transaction) =>
        work(executorOf(async <T>(text: string, params: readonly unknown[]) => (await transaction.query<T>(text, params as unknown[])).rows)),
      ),
    // One connection: each statement in a read-only transaction of its own (no round trip to pay
    // here), planned as the PostgreSQL read-only pool plans.
    readOnly: executorOf(<T>(text: string, params: readonly unknown[]) =>
      client.transaction(async (transaction) => {
        await transaction.exec('set transaction read only; set local plan_cache_mode = force_custom_plan');
        return (await transaction.query<T>(text, params as unknown[])).rows;
      }),
    ),
    // PGlite keeps no plans between statements: nothing to choose.
    genericPlans: executor,
    async listen(channel, onNotify, onConnect) {
      const unlisten = await client.listen(channel, onNotify);
      onConnect?.();
      return unlisten;
    },
    async reserveSession() {
      // PGlite has one connection; its session is shared by everything in this process, which is
      // also the only process that can open the data directory.
      return { ...executor, release: async () => {}, closed: new Promise<void>(() => {}) };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}
