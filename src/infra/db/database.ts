// The database as the rest of infra sees it, on either driver: PGlite (embedded, the default) or
// PostgreSQL through postgres.js when a URL is given. Besides the pool's executor: transactions, the
// connections projections read on, LISTEN, and sessions of their own for advisory locks.
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Executor } from '../../core/sql.ts';

/** The drizzle database, for the migrator. */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;

/** A session of its own (not from the pool), for session-level advisory locks. */
export type Session = Executor & {
  release(): Promise<void>;
  /** Resolves when the session's connection is gone (so its advisory locks are gone too). */
  closed: Promise<void>;
};

export type Database = Executor & {
  kind: 'postgres' | 'pglite';
  db: Db;
  transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T>;
  /** Where projections read their lookups: statements that may only read, each planned for its parameters. */
  projectionLookups: Executor;
  /** Where projection runners read their batches (see docs/decisions/batch-read-plans.md). */
  projectionBatches: Executor;
  /** Calls onNotify per notification; onConnect after the listener (re)connects, so a caller can re-read. */
  listen(channel: string, onNotify: (payload: string) => void, onConnect?: () => void): Promise<() => Promise<void>>;
  reserveSession(): Promise<Session>;
  /** Statements and transactions in progress on the pool, and the pool's size (for /metrics). */
  stats(): { inFlight: number; poolMax: number };
  close(): Promise<void>;
};

export type DatabaseOptions = { url: string; poolMax?: number; applicationName?: string } | { pgliteDir: string };

/** A database before its pool use is counted (see openDatabase). */
export type UncountedDatabase = Omit<Database, 'stats'> & { poolMax: number };
