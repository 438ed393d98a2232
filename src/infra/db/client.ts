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
import type { Db, Executor, Tx, TxExecutor } from './executor.ts';

export type { Db, Executor, Tx, TxExecutor } from './executor.ts';

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
  /** Calls onNotify per notification; onConnect after the listener (re)connects, so a caller can re-read. */
  listen(channel: string, onNotify: (payload: string) => void, onConnect?: () => void): Promise<() => Promise<void>>;
  reserveSession(): Promise<Session>;
  close(): Promise<void>;
};

export type DatabaseOptions =
  | { url: string; poolMax?: number; applicationName?: string }
  | { pgliteDir: string };

const dialect = new PgDialect();

export const toQuery = (query: SQL) => dialect.sqlToQuery(query);

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

const txExecutor = (tx: Tx): TxExecutor => ({
  db: tx,
  rows: async <T>(query: SQL) => rowsOf<T>(await tx.execute(query)),
});

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return 'url' in options ? openPostgres(options) : openPglite(options.pgliteDir);
}

async function openPostgres(options: { url: string; poolMax?: number; applicationName?: string }): Promise<Database> {
  const connection = { application_name: options.applicationName ?? 'converge', TimeZone: 'UTC' };
  const client = postgres(options.url, {
    max: options.poolMax ?? 10,
    onnotice: () => {},
    connection,
    // Fail fast instead of queueing forever when the server is away.
    connect_timeout: 5,
  });
  const db = drizzlePostgres({ client }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    async rows<T>(query: SQL) {
      const { sql: text, params } = toQuery(query);
      // Named prepared statements: parsed once per connection, which matters on the append path.
      return (await client.unsafe(text, params as never[], { prepare: true })) as unknown as T[];
    },
    transaction: (work) => db.transaction((tx) => work(txExecutor(tx))),
    async listen(channel, onNotify, onConnect) {
      const request = await client.listen(channel, onNotify, onConnect);
      return () => request.unlisten();
    },
    async reserveSession() {
      // A separate single-connection client, so that its death is observable and not hidden by a pool.
      let resolveClosed!: () => void;
      const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
      const session = postgres(options.url, {
        max: 1,
        onnotice: () => {},
        connection: { ...connection, application_name: `${connection.application_name}:lock` },
        connect_timeout: 5,
        idle_timeout: 0,
        max_lifetime: null,
        onclose: () => resolveClosed(),
      });
      return {
        closed,
        rows: async <T>(query: SQL) => {
          const { sql: text, params } = toQuery(query);
          return (await session.unsafe(text, params as never[])) as unknown as T[];
        },
        release: async () => {
          await session.end({ timeout: 5 });
          resolveClosed();
        },
      };
    },
    close: () => client.end({ timeout: 5 }),
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

async function openPglite(dir: string): Promise<Database> {
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
  const rows = async <T>(query: SQL) => {
    const { sql: text, params } = toQuery(query);
    return (await client.query<T>(text, params)).rows;
  };
  let closed = false;
  return {
    kind: 'pglite',
    db,
    rows,
    transaction: (work) => db.transaction((tx) => work(txExecutor(tx))),
    async listen(channel, onNotify, onConnect) {
      const unlisten = await client.listen(channel, onNotify);
      onConnect?.();
      return unlisten;
    },
    async reserveSession() {
      // PGlite has one connection; its session is shared by everything in this process, which is
      // also the only process that can open the data directory.
      return { rows, release: async () => {}, closed: new Promise<void>(() => {}) };
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
