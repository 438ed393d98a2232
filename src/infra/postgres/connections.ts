// postgres.js clients: the main pool, and beside it a connection of its own that is never recycled (a
// lock session, the listener) and small pools whose sessions are set up for one job. All of them come
// back after a PostgreSQL restart within a moment of the server's own return (docs/decisions/postgres-restarts.md).
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Run } from '../db/executor.ts';

/** postgres.js options with no custom types. */
type Options = postgres.Options<Record<string, postgres.PostgresType>>;

/**
 * Seconds a closed connection waits before it connects again, after `failures` failed connects of its
 * pool. postgres.js's own curve reaches 20 s, and a query handed to that connection waits it out even
 * once the server is back; a failed connect costs the server little, so the wait stays under 0.2 s.
 */
export const reconnectDelay = (failures: number) => Math.min(0.01 * 2 ** failures, 0.2) * (0.5 + Math.random() / 2);

/** What every client of ours shares: fail a connect in 5 s rather than queue, and reconnect promptly. */
const resilient = { onnotice: () => {}, connect_timeout: 5, backoff: reconnectDelay } as const;

/** The main pool. */
export function mainPool(url: string, connection: ConnectionSettings, max: number) {
  return postgres(url, { ...resilient, max, connection } as Options);
}

export type ConnectionSettings = Record<string, string | boolean>;

/** Runs statements on a pool, transaction or connection, each prepared once per connection. */
export const runOn =
  (sql: Pick<postgres.Sql, 'unsafe'>): Run =>
  async <T>(text: string, params: readonly unknown[]) =>
    (await sql.unsafe(text, params as never[], { prepare: true })) as unknown as T[];

const named = (connection: ConnectionSettings, role: string) => ({
  ...connection,
  application_name: `${connection.application_name}:${role}`,
});

/**
 * One connection of its own, never closed for idleness or age: a lock session or a listener, whose loss
 * must be seen (a pool would hide it behind a new connection).
 */
export function dedicatedConnection(url: string, connection: ConnectionSettings, role: string, extra: Partial<Options>) {
  return postgres(url, {
    ...resilient,
    max: 1,
    connection: named(connection, role),
    idle_timeout: 0,
    max_lifetime: null,
    ...extra,
  } as Options);
}

/**
 * Two connections (unless `extra` says otherwise) beside the main pool for one role, their sessions set
 * up by `settings`. Values are read and written as on the main pool: drizzle sets the client's parsers
 * (JSON and times pass as text).
 */
export function sidePool(
  url: string,
  connection: ConnectionSettings,
  role: string,
  settings: ConnectionSettings,
  extra: Partial<Options> = {},
) {
  const client = postgres(url, {
    ...resilient,
    max: 2,
    connection: { ...named(connection, role), ...settings },
    ...extra,
  } as Options);
  drizzle({ client });
  return client;
}
